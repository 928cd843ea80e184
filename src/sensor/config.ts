// The `sensor` configuration section: what the sensor reads (log files, live capture) and how it reports itself.

import Type, { type StaticDecode } from 'typebox';
import { Duration, Section } from '../config/types.ts';
import { FileSourceConfigSchema } from './sources/config.ts';

const CaptureSchema = Type.Object(
  {
    interface: Type.String({ minLength: 1, description: 'Interface to capture on (`ip link`), or "any".' }),
    filter: Type.String({
      default: 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn or udp or icmp[icmptype] == icmp-echo',
      description:
        'pcap-filter(7) expression; the default keeps only probes (SYN without ACK, UDP, ICMP echo).',
    }),
  },
  { additionalProperties: false },
);

export const SensorConfigSchema = Section(
  'The sensor: the log files it follows, live packet capture, and its reports to the server. See docs/sensor.md.',
  {
    state_dir: Type.String({
      default: './data/sensor',
      minLength: 1,
      description: 'Where read positions of followed files are kept (the spool has its own spool.path).',
    }),
    time_zone: Type.Refine(
      Type.String({
        default: '',
        description:
          'IANA zone (e.g. "Europe/Berlin") of log lines written in local time without an offset (BSD syslog, Windows Firewall); "" is the host\'s zone.',
      }),
      (v) => v === '' || zoneIsKnown(v),
      (v) =>
        `must be an IANA time zone such as "UTC" or "Europe/Berlin", or "" for the host's zone; got ${JSON.stringify(v)}`,
    ),
    sources: Type.Array(FileSourceConfigSchema, {
      default: [],
      description:
        'Log files to follow, e.g. [{path: /var/log/ufw.log}, {path: /var/log/suricata/eve.json, format: suricata-eve}].',
    }),
    captures: Type.Array(CaptureSchema, {
      default: [],
      description:
        'Live packet capture through tcpdump (needs root or CAP_NET_RAW), e.g. [{interface: eth0}].',
    }),
    heartbeat_interval: Duration({
      default: '1m',
      minimum: '1s',
      maximum: '1h',
      description:
        'How often the sensor reports its health to the server (the server lists it as stale after collector.sensor_stale_after).',
    }),
    retaskable: Type.Boolean({
      default: false,
      description:
        'Accept requests from the server to open honeypot ports for a while (up to honeypot.max_retasked_ports).',
    }),
    append_interval: Duration({
      default: '200ms',
      minimum: '1ms',
      maximum: '10s',
      description:
        'Events are gathered this long (or up to 10,000) before they are written to the spool together.',
    }),
  },
);

export type SensorConfig = StaticDecode<typeof SensorConfigSchema>;

function zoneIsKnown(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The zone local-time stamps are read in. */
export function sensorTimeZone(config: SensorConfig): string {
  return config.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}
