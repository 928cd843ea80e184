// Port groups: ports one service answers on, judged together, so scanning spread over them shows even when no single
// port of the group stands out (a worm picking any of 8000-8099, a scanner cycling through SMB's ports).

import { emptyCounts, type BucketCounts } from '../../buckets.ts';

export interface PortGroup {
  /** Short and stable: it is part of incident ids ("http-alt"). */
  name: string;
  proto: number;
  ports: number[];
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Services commonly exposed on several ports; a demanding deployment edits these in code or adds its own. */
export const DEFAULT_PORT_GROUPS: readonly PortGroup[] = [
  { name: 'smb', proto: 6, ports: [135, 137, 139, 445] },
  { name: 'telnet', proto: 6, ports: [23, 2323] },
  { name: 'http-alt', proto: 6, ports: [81, ...range(8000, 8099), 8443, 8888] },
  { name: 'vnc', proto: 6, ports: range(5900, 5910) },
  { name: 'databases', proto: 6, ports: [1433, 1521, 3306, 5432, 6379, 9200, 11211, 27017] },
  { name: 'remote-admin', proto: 6, ports: [22, 2222, 3389, 5985, 5986] },
];

/** Group keys sit above every protocol × port key ((proto << 16) | port < 2^24). */
export const GROUP_BASE = 1 << 24;

/**
 * The minute's rows for each group that saw anything: counts summed over its ports (a source on two of its ports
 * counts twice, as it does in the group's own baseline), sensors, /24s and first-time sources pooled.
 */
export function groupBucket(
  b: BucketCounts,
  groups: readonly PortGroup[],
  memberOf: Map<number, number[]>,
): BucketCounts {
  const rows = new Map<number, number[]>();
  for (let i = 0; i < b.length; i++)
    for (const g of memberOf.get(b.keys[i]) ?? []) {
      let r = rows.get(g);
      if (r === undefined) rows.set(g, (r = []));
      r.push(i);
    }
  const order = [...rows.keys()].sort((a, c) => a - c);
  const n = order.length;
  const out = emptyCounts(b.t, b.ms, n);
  out.keys.set(order.map((g) => GROUP_BASE + g));
  const sensors: number[] = [];
  const subnets: number[] = [];
  const pairs: number[] = [];
  order.forEach((g, j) => {
    const sensorSet = new Set<number>();
    for (const i of rows.get(g)!) {
      out.events[j] += b.events[i];
      out.sources[j] += b.sources[i];
      out.targets[j] += b.targets[i];
      out.subnets[j] += b.subnets[i];
      out.newSources[j] += b.newSources[i];
      out.networks[j] = Math.max(out.networks[j], b.networks[i]);
      out.sensors[j] = Math.max(out.sensors[j], b.sensors[i]);
      for (let k = b.sensorStart[i]; k < b.sensorStart[i + 1]; k++) sensorSet.add(b.sensorHashes[k]);
      for (let k = b.subnetStart[i]; k < b.subnetStart[i + 1]; k++) subnets.push(b.subnetHashes[k]);
      for (let k = b.newStart[i] * 2; k < b.newStart[i + 1] * 2; k++) pairs.push(b.newPairs[k]);
    }
    // Distinct sensors over the group's ports: at least the busiest port's, exactly the union while listed.
    out.sensors[j] = Math.max(out.sensors[j], sensorSet.size);
    sensors.push(...sensorSet);
    out.sensorStart[j + 1] = sensors.length;
    out.subnetStart[j + 1] = subnets.length;
    out.newStart[j + 1] = pairs.length / 2;
  });
  out.sensorHashes = Int32Array.from(sensors);
  out.subnetHashes = Int32Array.from(subnets);
  out.newPairs = Int32Array.from(pairs);
  return out;
}

/** Port key → the groups it belongs to. */
export function membership(groups: readonly PortGroup[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  groups.forEach((g, i) => {
    for (const port of g.ports) {
      const key = (g.proto << 16) | port;
      m.set(key, [...(m.get(key) ?? []), i]);
    }
  });
  return m;
}
