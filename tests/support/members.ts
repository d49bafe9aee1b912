import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Platform } from './platform.js';
import type { SmtpSink } from './smtp-sink.js';

/** A registered, signed-in user with the address their invitations are mailed to. */
export interface Member {
  userId: string;
  token: string;
  email: string;
}

export const TEST_PASSWORD = 'correct horse battery';

/** Registers `name` (a unique address) over HTTP and signs in. */
export async function registerMember(platform: Platform, name: string): Promise<Member> {
  const email = `${name}-${randomUUID().slice(0, 8)}@example.test`;
  const r = await platform.call('POST', '/api/v1/auth/register', { body: { email, password: TEST_PASSWORD, display_name: name } });
  expect(r.status, r.text).to.equal(201);
  const login = await platform.call('POST', '/api/v1/auth/login', { body: { email, password: TEST_PASSWORD } });
  expect(login.status, login.text).to.equal(200);
  return { userId: login.body.data.user_id, token: login.body.data.access_token, email };
}

/** The token of the invitation link mailed to `email` (the mail worker must run). */
export async function mailedInvitationToken(sink: SmtpSink, email: string): Promise<string> {
  const mail = await sink.waitForMessage((m) => m.envelope.to.includes(email), 20_000);
  const match = /invitation=([^\s&"<]+)/.exec(mail.parsed.text ?? '');
  expect(match, mail.parsed.text).to.not.equal(null);
  return decodeURIComponent(match![1]!);
}

/** `inviter` invites `user` with `roles` (and a team), and `user` accepts the mailed link. */
export async function joinOrganization(
  platform: Platform,
  sink: SmtpSink,
  join: { organizationId: string; inviter: Member; user: Member; roles: string[]; team?: string },
): Promise<void> {
  const { organizationId, inviter, user, roles, team } = join;
  const sent = await platform.call('POST', `/api/v1/organizations/${organizationId}/invitations`, {
    token: inviter.token,
    body: { email: user.email, roles, ...(team !== undefined ? { team } : {}) },
  });
  expect(sent.status, sent.text).to.equal(201);
  const token = await mailedInvitationToken(sink, user.email);
  const accepted = await platform.call('POST', '/api/v1/invitations/accept', { token: user.token, body: { token } });
  expect(accepted.status, accepted.text).to.equal(200);
}

/** The membership answers the access policy keeps a second per user: wait them out after joining. */
export const membershipsSettle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1_100));
