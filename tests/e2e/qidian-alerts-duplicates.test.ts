import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { alertRuleId } from '../../src/application/novel-alerts.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { novelAlertAggregate, novelAlertRuleAggregate, novelAlertRuleStream, type NovelAlertKind } from '../../src/write-model/novel-alert/index.js';
import { subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { inUse } from '../../src/write-model/subscription/state.js';
import { grantPlan } from '../support/plans.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';

const NOVEL = '1036370336';

/**
 * An owner sets an alert rule (novel, kind, words) once, over the real
 * socket: a duplicate POST, or a PUT that would make one, is 409 CONFLICT
 * with `details.reason: duplicate_alert` and the id of the alert that has
 * the rule, holding no alert_notifications unit and writing nothing; a
 * deleted rule may be set again; another user's identical rule is theirs;
 * of concurrent identical POSTs exactly one sets the rule.
 */
describe('qidian alerts: an owner sets a rule once (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
  });
  after(async () => {
    await platform?.stop();
  });

  /** A user on qidian pro (20 alerts) tracking NOVEL. */
  async function tracker(name: string): Promise<{ userId: string; token: string }> {
    const user = await platform.signUp(name);
    await grantPlan(platform.store, user.userId, 'qidian', 'pro');
    const tracked = await platform.call('POST', '/api/v1/qidian/trackings', { token: user.token, body: { novel_id: NOVEL } });
    expect(tracked.status, tracked.text).to.equal(201);
    return user;
  }

  const post = (token: string, kind: NovelAlertKind, words?: number): Promise<Reply> =>
    platform.call('POST', '/api/v1/qidian/alerts', { token, body: { novel_id: NOVEL, kind, ...(words !== undefined ? { words } : {}) } });

  /** The alert_notifications units the user's qidian subscription holds, as its stream says. */
  async function unitsHeld(userId: string): Promise<number> {
    const { state } = await load(platform.store, subscriptionAggregate, subscriptionKey(userId, 'qidian'));
    if (!('reservations' in state)) throw new Error('no qidian subscription');
    return inUse(state, 'alert_notifications');
  }

  /** How many events these streams hold (what a refused request must leave as it was). */
  async function eventCount(...streams: string[]): Promise<number> {
    let n = 0;
    for (const stream of streams) n += (await platform.events(stream)).length;
    return n;
  }

  function expectDuplicateOf(reply: Reply, alertId: string): void {
    expect(reply.status, reply.text).to.equal(409);
    expect(reply.body.error.code).to.equal('CONFLICT');
    expect(reply.body.error.details).to.include({ reason: 'duplicate_alert', alertId });
  }

  it('a duplicate POST is 409 naming the existing alert, takes no unit and writes nothing', async () => {
    const alice = await tracker('alice');
    const update = await post(alice.token, 'update');
    expect(update.status, update.text).to.equal(201);
    const threshold = await post(alice.token, 'word_count_threshold', 400_000);
    expect(threshold.status, threshold.text).to.equal(201);
    expect(await unitsHeld(alice.userId)).to.equal(2);

    const streams = [
      subscriptionStream(alice.userId, 'qidian'),
      novelAlertRuleStream(alertRuleId({ userId: alice.userId, novelId: NOVEL, kind: 'update', words: null })),
      novelAlertRuleStream(alertRuleId({ userId: alice.userId, novelId: NOVEL, kind: 'word_count_threshold', words: 400_000 })),
    ];
    const before = await eventCount(...streams);
    expectDuplicateOf(await post(alice.token, 'update'), update.body.data.id);
    expectDuplicateOf(await post(alice.token, 'word_count_threshold', 400_000), threshold.body.data.id);
    expect(await unitsHeld(alice.userId)).to.equal(2);
    expect(await eventCount(...streams)).to.equal(before);

    // another threshold, or another kind, is another rule
    expect((await post(alice.token, 'word_count_threshold', 500_000)).status).to.equal(201);
    expect((await post(alice.token, 'completion')).status).to.equal(201);
    expect(await unitsHeld(alice.userId)).to.equal(4);
  });

  it('a PUT that would make a duplicate is 409 and changes nothing; the rule a change leaves is free again', async () => {
    const bob = await tracker('bob');
    const update = await post(bob.token, 'update');
    const low = await post(bob.token, 'word_count_threshold', 400_000);
    const high = await post(bob.token, 'word_count_threshold', 500_000);
    for (const r of [update, low, high]) expect(r.status, r.text).to.equal(201);

    const toLow = await platform.call('PUT', `/api/v1/qidian/alerts/${high.body.data.id}`, { token: bob.token, body: { words: 400_000 } });
    expectDuplicateOf(toLow, low.body.data.id);
    const toUpdate = await platform.call('PUT', `/api/v1/qidian/alerts/${high.body.data.id}`, { token: bob.token, body: { kind: 'update' } });
    expectDuplicateOf(toUpdate, update.body.data.id);
    const unchanged = await platform.call('GET', `/api/v1/qidian/alerts/${high.body.data.id}`, { token: bob.token });
    expect(unchanged.body.data).to.include({ kind: 'word_count_threshold', words: 500_000, revision: '0' });

    // moved to a free rule: its old one may be set again, the new one not
    const moved = await platform.call('PUT', `/api/v1/qidian/alerts/${high.body.data.id}`, { token: bob.token, body: { words: 600_000 } });
    expect(moved.status, moved.text).to.equal(200);
    expect((await post(bob.token, 'word_count_threshold', 500_000)).status).to.equal(201);
    expectDuplicateOf(await post(bob.token, 'word_count_threshold', 600_000), high.body.data.id);
    // a change to what the alert is already: nothing to do, no conflict with itself
    const same = await platform.call('PUT', `/api/v1/qidian/alerts/${high.body.data.id}`, { token: bob.token, body: { words: 600_000 } });
    expect(same.status, same.text).to.equal(200);
    expect(same.body.data.position).to.equal(null);
  });

  it('a deleted rule may be set again; another user may set the same rule', async () => {
    const carol = await tracker('carol');
    const first = await post(carol.token, 'update');
    expect(first.status, first.text).to.equal(201);
    const deleted = await platform.call('DELETE', `/api/v1/qidian/alerts/${first.body.data.id}`, { token: carol.token });
    expect(deleted.status, deleted.text).to.equal(200);
    expect(await unitsHeld(carol.userId)).to.equal(0);
    const again = await post(carol.token, 'update');
    expect(again.status, again.text).to.equal(201);
    expect(again.body.data.id).to.not.equal(first.body.data.id);
    expectDuplicateOf(await post(carol.token, 'update'), again.body.data.id);

    const dan = await tracker('dan');
    const theirs = await post(dan.token, 'update');
    expect(theirs.status, theirs.text).to.equal(201);
    expect(await unitsHeld(carol.userId)).to.equal(1);
    expect(await unitsHeld(dan.userId)).to.equal(1);
  });

  it('of concurrent identical POSTs exactly one sets the rule; the others are 409 and hold no unit', async () => {
    const erin = await tracker('erin');
    const rounds = [100_000, 200_000, 300_000, 400_000, 500_000];
    let last: Reply | undefined;
    for (const words of rounds) {
      const replies = await Promise.all(Array.from({ length: 4 }, () => post(erin.token, 'word_count_threshold', words)));
      const created = replies.filter((r) => r.status === 201);
      expect(created, replies.map((r) => `${r.status} ${r.text}`).join('\n')).to.have.length(1);
      for (const r of replies.filter((x) => x.status !== 201)) expectDuplicateOf(r, created[0]!.body.data.id);
      last = created[0];
    }
    expect(await unitsHeld(erin.userId)).to.equal(rounds.length);
    const listed = await platform.call('GET', `/api/v1/qidian/alerts?per_page=50&after_position=${last!.body.data.position}`, { token: erin.token });
    expect(listed.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((a: { words: number }) => a.words).sort((a: number, b: number) => a - b)).to.deep.equal(rounds);
  });

  it('a rule whose release was lost to a crash is free all the same, judged on the alert that held it', async () => {
    const fay = await tracker('fay');
    const context = (): CommandContext => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: fay.userId });
    const rule = (kind: NovelAlertKind, words: number | null = null) => ({ userId: fay.userId, novelId: NOVEL, kind, words });

    // a create that took its rule and wrote no alert: the next identical POST finishes it, under its id
    const lost = randomUUID();
    const updateRule = alertRuleId(rule('update'));
    await handle(
      platform.store,
      novelAlertRuleAggregate,
      updateRule,
      { type: 'ReserveNovelAlertRule', ruleId: updateRule, alertId: lost, alertRevision: -1, ...rule('update') },
      { context: context() },
    );
    const finished = await post(fay.token, 'update');
    expect(finished.status, finished.text).to.equal(201);
    expect(finished.body.data.id).to.equal(lost);
    expectDuplicateOf(await post(fay.token, 'update'), lost);

    // an alert deleted, or changed to another rule, that never gave its rule back
    const completion = await post(fay.token, 'completion');
    expect(completion.status, completion.text).to.equal(201);
    const now = new Date().toISOString();
    await handle(
      platform.store,
      novelAlertAggregate,
      completion.body.data.id,
      { type: 'DeleteNovelAlert', alertId: completion.body.data.id, requestedBy: fay.userId, now },
      { context: context() },
    );
    expect((await post(fay.token, 'completion')).status).to.equal(201);
    const threshold = await post(fay.token, 'word_count_threshold', 400_000);
    expect(threshold.status, threshold.text).to.equal(201);
    await handle(
      platform.store,
      novelAlertAggregate,
      threshold.body.data.id,
      { type: 'ChangeNovelAlert', alertId: threshold.body.data.id, requestedBy: fay.userId, words: 450_000, now },
      { context: context() },
    );
    expect((await post(fay.token, 'word_count_threshold', 400_000)).status).to.equal(201);
  });
});
