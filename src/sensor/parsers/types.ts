// The contract every sensor parser meets: one input record (a log line or a packet) in, events out.
//
// Parsers are pure: no I/O, no clock reads except through the context, no privacy rules (those run
// after parsing, in src/sensor/privacy). A record that is not an event (a header, a comment, an
// "INFO-EVENTS-LOST" notice, a Cowrie session-closed record) is reported as `skip` with a reason so
// the sensor can count it; a record that should be an event but cannot be read is `error`.

import type { PortentEvent } from '../../core/event.ts';

/** Formats the sensor can read; the names appear in config, health and `portent sensor import`. */
export type FormatName =
  | 'netfilter' // iptables / nftables / ufw LOG lines, kernel syslog, journald export, DShield
  | 'filterlog' // pf / pfSense / OPNsense filterlog, BSD syslog and RFC 5424
  | 'pfirewall' // Windows Firewall pfirewall.log (W3C)
  | 'zeek-conn' // Zeek conn.log, TSV with #fields header
  | 'zeek-conn-json' // Zeek conn.log as JSON lines
  | 'suricata-eve' // Suricata eve.json (flow, alert, anomaly)
  | 'cowrie' // Cowrie JSON lines, every schema generation
  | 'dionaea' // Dionaea JSON
  | 'opencanary' // OpenCanary JSON
  | 'cisco-asa' // Cisco ASA %ASA- lines
  | 'mikrotik' // MikroTik RouterOS firewall log lines
  | 'sonicwall' // SonicWall SonicOS key=value syslog
  | 'checkpoint' // Check Point Log Exporter syslog
  | 'pcap'; // pcap / pcapng capture files (binary, see ../capture)

export type ParseResult =
  | { kind: 'event'; event: PortentEvent }
  | { kind: 'skip'; reason: string }
  | { kind: 'error'; message: string };

export interface ParseContext {
  /** Now, ms since the epoch, when the parser is created; later moved with LineParser.setNow. */
  now: number;
  /** IANA zone for formats that write local time without an offset (pfirewall, BSD syslog). */
  timeZone: string;
}

/**
 * A line-oriented format. Some formats carry state from header lines (Zeek's #fields, W3C's
 * #Fields), so a parser is created per input stream.
 */
export interface LineParser {
  readonly format: FormatName;
  /** One line without its terminator; may return several results (rare) or one. */
  parse(line: string): ParseResult;
  /**
   * Moves the parser's "now" (ms since the epoch). The sensor calls it with its clock's time before
   * each batch of lines, at least once a second, because a sensor tails logs for months and a "now"
   * fixed at creation would turn every event into a future-time error after 24 h and give January
   * lines last year. Parsers use it for the year of year-less stamps, the check that an event is not
   * more than 24 h ahead, and the time of lines without a stamp. It must be cheap (O(1), no
   * allocation per call) and keep per-stream state such as Zeek's #fields or W3C's #Fields header.
   */
  setNow(now: number): void;
}

export interface LineFormat {
  readonly name: FormatName;
  /**
   * How sure we are that these first lines of a file are in this format, 0..1, with the reason
   * shown to the user ("47 of 50 lines match the iptables LOG pattern").
   */
  detect(sample: readonly string[]): { score: number; reason: string };
  create(ctx: ParseContext): LineParser;
}
