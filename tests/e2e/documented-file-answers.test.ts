import { expect } from 'chai';
import { formatPosition } from '../../src/event-store/position.js';
import { collectedRun, qidianSnapshot } from '../support/collected.js';
import { grantPlan } from '../support/plans.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * Routes that answer a file as well as JSON say so in the OpenAPI document:
 * every content type they answer is one their 200 lists (the test harness's
 * response check refuses an answer in a type the document does not list).
 */
describe('file answers as the OpenAPI document lists them (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform?.stop());

  async function documented(path: string): Promise<string[]> {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    return Object.keys(doc.paths[path].get.responses['200'].content);
  }

  it("a Qidian novel's data export downloads as json, csv, xlsx and pdf, each a type the document lists", async () => {
    const alice = await platform.signUp('export-reader');
    await grantPlan(platform.store, alice.userId, 'qidian', 'pro');
    const novelId = '1010868264';
    const position = formatPosition(
      await collectedRun(platform.store, {
        ownerId: alice.userId,
        site: 'qidian',
        workflowType: 'qidian.novels',
        config: { novelIds: [novelId] },
        items: [qidianSnapshot(novelId, new Date(Date.now() - 3_600_000).toISOString(), 120_000, 110, 5_200, 330)],
      }),
    );
    const types = await documented('/api/v1/qidian/novels/{id}/data/export');
    for (const [format, type] of [
      ['json', 'application/json; charset=utf-8'],
      ['csv', 'text/csv; charset=utf-8'],
      ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
      ['pdf', 'application/pdf'],
    ] as const) {
      const file = await platform.call('GET', `/api/v1/qidian/novels/${novelId}/data/export?format=${format}&after_position=${position}`, {
        token: alice.token,
      });
      expect(file.status, `${format}: ${file.text.slice(0, 300)}`).to.equal(200);
      expect(file.headers.get('content-type')).to.equal(type);
      expect(types, format).to.include(type);
    }
  });

  it('a ledger statement is documented as the JSON envelope, an xlsx workbook or a pdf', async () => {
    expect(await documented('/api/v1/ledger/statements/{month}')).to.have.members([
      'application/json',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/pdf',
    ]);
  });
});
