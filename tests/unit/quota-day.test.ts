import { expect } from 'chai';
import { addDays, isCalendarDay, quotaDay } from '../../src/application/quota-day.js';

describe('quota day', () => {
  it("is the zone's calendar day, resetting at its next midnight", () => {
    expect(quotaDay(new Date('2026-03-01T15:59:59.999Z'), 'Asia/Shanghai')).to.deep.equal({ day: '2026-03-01', resetsAt: '2026-03-01T16:00:00.000Z' });
    expect(quotaDay(new Date('2026-03-01T16:00:00.000Z'), 'Asia/Shanghai')).to.deep.equal({ day: '2026-03-02', resetsAt: '2026-03-02T16:00:00.000Z' });
  });

  it('follows a daylight-saving change (a 23-hour day)', () => {
    expect(quotaDay(new Date('2026-03-29T12:00:00Z'), 'Europe/Berlin')).to.deep.equal({ day: '2026-03-29', resetsAt: '2026-03-29T22:00:00.000Z' });
    expect(quotaDay(new Date('2026-03-28T12:00:00Z'), 'Europe/Berlin')).to.deep.equal({ day: '2026-03-28', resetsAt: '2026-03-28T23:00:00.000Z' });
  });

  it('answers alike when asked again within a minute, and for each zone on its own (the last answer is remembered per zone)', () => {
    const at = new Date('2026-05-05T03:04:05Z');
    expect(quotaDay(at, 'Asia/Shanghai')).to.deep.equal(quotaDay(new Date(at.getTime() + 50_000), 'Asia/Shanghai'));
    expect(quotaDay(at, 'America/New_York').day).to.equal('2026-05-04');
    expect(quotaDay(at, 'Asia/Shanghai').day).to.equal('2026-05-05');
    // the next minute across midnight is a new day
    expect(quotaDay(new Date('2026-05-05T15:59:30Z'), 'Asia/Shanghai').day).to.equal('2026-05-05');
    expect(quotaDay(new Date('2026-05-05T16:00:30Z'), 'Asia/Shanghai').day).to.equal('2026-05-06');
  });

  it('adds calendar days', () => {
    expect(addDays('2026-02-28', 1)).to.equal('2026-03-01');
    expect(addDays('2026-03-01', -1)).to.equal('2026-02-28');
  });

  it('isCalendarDay: a real YYYY-MM-DD only, no rolled-over day and no year 0', () => {
    for (const day of ['2026-02-28', '2024-02-29', '0001-01-01', '9999-12-31']) expect(isCalendarDay(day), day).to.equal(true);
    for (const day of ['2026-02-29', '2026-02-30', '2026-13-01', '0000-01-01', '2026-1-01', '2026-01-01T00:00:00Z', '', 'today'])
      expect(isCalendarDay(day), day).to.equal(false);
  });
});
