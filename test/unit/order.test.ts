import test from 'ava';
import { estimatedCost, longestFirst } from '../../harness/plan/order.js';
import { planCells, type Cell } from '../../harness/plan/plan.js';
import { CATALOG } from '../../scenarios/index.js';

const bochsAtV4 = (cell: Cell) => (cell.level === 'v4' ? 25 : 1);

test('the longest cells go first: every Bochs cell, then release upgrades and moves, detection last', (t) => {
  const cells = planCells(CATALOG);
  const order = longestFirst(cells, bochsAtV4);
  t.is(order.length, cells.length);
  t.deepEqual(order.map((c) => c.id).sort(), cells.map((c) => c.id).sort());
  const v4 = cells.filter((c) => c.level === 'v4').length;
  t.true(order.slice(0, v4).every((c) => c.level === 'v4'));
  // Among the TCG cells, a release upgrade (several transactions and a reboot) before any detection cell.
  const tcg = order.slice(v4);
  t.is(tcg[0]!.scenario.id.startsWith('release-upgrade'), true, tcg[0]!.id);
  t.true(tcg.findIndex((c) => c.scenario.id === 'release-upgrade') < tcg.findIndex((c) => c.scenario.id === 'detection'));
  // Costs never increase along the order.
  const costs = order.map((c) => estimatedCost(c, bochsAtV4(c)));
  t.true(costs.every((c, i) => i === 0 || c <= costs[i - 1]!));
});

test('the order is deterministic: equal costs keep the plan order, and the input is not changed', (t) => {
  const cells = planCells(CATALOG, { targets: ['v1', 'v2', 'v3'], scenarios: ['glibc-hwcaps'] });
  const copy = [...cells];
  const order = longestFirst(cells, () => 1).map((c) => c.id);
  t.deepEqual(longestFirst(cells, () => 1).map((c) => c.id), order);
  t.deepEqual(cells, copy);
  // The same scenario and driver at three levels costs the same: v1, v2, v3 as planned, zypper's first.
  t.deepEqual(order, ['glibc-hwcaps[v1,zypper]', 'glibc-hwcaps[v2,zypper]', 'glibc-hwcaps[v3,zypper]', 'glibc-hwcaps[v1,dnf5]', 'glibc-hwcaps[v2,dnf5]', 'glibc-hwcaps[v3,dnf5]', 'glibc-hwcaps[v1,rpm]', 'glibc-hwcaps[v2,rpm]', 'glibc-hwcaps[v3,rpm]']);
});

test('a zypper cell costs more than the same steps under dnf5, and the slowdown multiplies', (t) => {
  const [dnf5, zypper] = ['dnf5', 'zypper'].map((d) => planCells(CATALOG, { targets: ['v3'], scenarios: ['upgrade-new-variant'], drivers: [d as 'dnf5'] })[0]!);
  t.true(estimatedCost(zypper!, 1) > estimatedCost(dnf5!, 1));
  t.is(estimatedCost(dnf5!, 25), 25 * estimatedCost(dnf5!, 1));
});
