import assert from 'node:assert/strict';
import { hostQueries } from '@guestnet/host-agent';

describe("the host model's queries", () => {
  it('declares every query once, each kept fresh by the kernel’s events or by the checking loop', () => {
    const queries = Object.entries(hostQueries);
    assert.ok(queries.length > 0);
    for (const [name, query] of queries) {
      assert.equal(query.name, name);
      assert.ok(['kernel-events', 'checking-loop'].includes(query.keptFreshBy), name);
    }
    assert.equal(new Set(queries.map(([, q]) => q.argv.join(' '))).size, queries.length, 'no two queries run one command');
    // The firewall makes no event when others change it.
    for (const query of [
      hostQueries.nftTables,
      hostQueries.nftTableShape,
      hostQueries.iptablesSave,
      hostQueries.iptablesLegacySave,
      hostQueries.ip6tablesSave,
      hostQueries.ip6tablesLegacySave,
    ])
      assert.equal(query.keptFreshBy, 'checking-loop', query.name);
  });
});
