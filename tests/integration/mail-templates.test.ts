import { expect } from 'chai';
import { passwordResetMail } from '../../src/application/mail/templates.js';

describe('mail templates', () => {
  describe('passwordResetMail', () => {
    it('puts the link and the validity in both languages, in text and html', () => {
      const mail = passwordResetMail({ resetUrl: 'https://app.example.com/reset?token=abc', expiresInMinutes: 30 });
      expect(mail.subject).to.equal('重置密码 / Reset your password – Collector');
      expect(mail.text.split('https://app.example.com/reset?token=abc')).to.have.length(3);
      expect(mail.text).to.include('30 分钟内有效').and.to.include('valid for 30 minutes');
      expect(mail.html).to.include('href="https://app.example.com/reset?token=abc"');
      expect(mail.html).to.include('<meta charset="utf-8">');
    });

    it('speaks of hours for whole hours', () => {
      const mail = passwordResetMail({ resetUrl: 'https://app.example.com/r', expiresInMinutes: 60 });
      expect(mail.text).to.include('1 小时内有效').and.to.include('valid for 1 hour,');
    });

    it('escapes the URL in the html', () => {
      const mail = passwordResetMail({ resetUrl: 'https://app.example.com/reset?a=1&b="><script>', expiresInMinutes: 15 });
      expect(mail.html).not.to.include('<script>');
      expect(mail.html).not.to.include('"><');
      expect(mail.html).to.include('a=1&amp;b=');
    });

    it('refuses non-http links and non-positive validity', () => {
      expect(() => passwordResetMail({ resetUrl: 'javascript:alert(1)', expiresInMinutes: 15 })).to.throw(TypeError);
      expect(() => passwordResetMail({ resetUrl: '/relative', expiresInMinutes: 15 })).to.throw(TypeError);
      expect(() => passwordResetMail({ resetUrl: 'https://x.example', expiresInMinutes: 0 })).to.throw(RangeError);
    });
  });
});
