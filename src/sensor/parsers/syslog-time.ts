// Timestamps of firewall log lines: BSD syslog (no year, local time), RFC 3339, epoch seconds, and local wall-clock time to UTC.
//
// Every line of a firewall log carries a timestamp, so this runs once per line on the hot path: the
// readers are character loops with no allocation, the year of a BSD stamp is decided once per day
// seen, and the zone offset (an Intl call, a few microseconds) once per quarter hour of wall time.

import type { FormatName, LineParser, ParseContext, ParseResult } from './types.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Zone offsets change on quarter-hour boundaries of wall time in every zone in use today. */
const BUCKET = 15 * MINUTE;
/** A BSD stamp this far ahead of "now" is from last year (a December line read in January). */
const FUTURE_SLACK = 2 * DAY;
/** Bounds on the years we accept: outside them a stamp is garbage, and Date.UTC misreads years < 100. */
const MIN_YEAR = 1970;
const MAX_YEAR = 9999;

/** Month 0..11 of a three-letter English abbreviation at `pos` in any letter case, or -1. */
export function monthAt(s: string, pos: number): number {
  const a = s.charCodeAt(pos) | 0x20;
  const b = s.charCodeAt(pos + 1) | 0x20;
  const c = s.charCodeAt(pos + 2) | 0x20;
  switch (a) {
    case 0x6a: // j
      if (b === 0x61 && c === 0x6e) return 0; // jan
      if (b === 0x75 && c === 0x6e) return 5; // jun
      if (b === 0x75 && c === 0x6c) return 6; // jul
      return -1;
    case 0x66: // f
      return b === 0x65 && c === 0x62 ? 1 : -1; // feb
    case 0x6d: // m
      if (b === 0x61 && c === 0x72) return 2; // mar
      if (b === 0x61 && c === 0x79) return 4; // may
      return -1;
    case 0x61: // a
      if (b === 0x70 && c === 0x72) return 3; // apr
      if (b === 0x75 && c === 0x67) return 7; // aug
      return -1;
    case 0x73: // s
      return b === 0x65 && c === 0x70 ? 8 : -1; // sep
    case 0x6f: // o
      return b === 0x63 && c === 0x74 ? 9 : -1; // oct
    case 0x6e: // n
      return b === 0x6f && c === 0x76 ? 10 : -1; // nov
    case 0x64: // d
      return b === 0x65 && c === 0x63 ? 11 : -1; // dec
    default:
      return -1;
  }
}

/** Value of the `n` decimal digits at `pos`, or -1 if any is not a digit. */
export function digitsAt(s: string, pos: number, n: number): number {
  let v = 0;
  for (let i = pos; i < pos + n; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (!(c >= 0 && c <= 9)) return -1; // written so that NaN (past the end) fails too
    v = v * 10 + c;
  }
  return v;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, month0: number): number {
  return month0 === 1 ? (isLeapYear(y) ? 29 : 28) : MONTH_DAYS[month0];
}

/** True when the calendar date and clock time exist (a leap second :60 is let through). */
function validDateTime(y: number, month0: number, d: number, h: number, mi: number, s: number): boolean {
  return (
    y >= MIN_YEAR &&
    y <= MAX_YEAR &&
    month0 >= 0 &&
    month0 <= 11 &&
    d >= 1 &&
    d <= daysInMonth(y, month0) &&
    h >= 0 &&
    h <= 23 &&
    mi >= 0 &&
    mi <= 59 &&
    s >= 0 &&
    s <= 60
  );
}

/**
 * Converts wall-clock time in one IANA zone to UTC with the Intl API. Wall time is passed as the
 * milliseconds Date.UTC gives for the wall-clock fields. Like Temporal's "compatible"
 * disambiguation: a time that occurs twice (autumn overlap) is the earlier instant, and a time that
 * does not exist (spring gap) is moved forward by the gap, as a clock that was not yet changed reads it.
 */
export class ZoneConverter {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat | null;
  private lastBucket = Number.NaN;
  private lastOffset = 0;
  private readonly cache = new Map<number, number>();

  /** Throws RangeError for a zone name Intl does not know (a configuration error, not a line's). */
  constructor(timeZone: string) {
    this.timeZone = timeZone;
    const utc = timeZone === 'UTC' || timeZone === 'Etc/UTC' || timeZone === 'GMT';
    this.format = utc
      ? null
      : new Intl.DateTimeFormat('en-US', {
          timeZone,
          hourCycle: 'h23',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        });
  }

  /** Offset of the zone from UTC at an instant, in ms (local minus UTC). */
  offsetAt(instant: number): number {
    if (this.format === null) return 0;
    const whole = Math.floor(instant / 1000) * 1000;
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let s = 0;
    for (const p of this.format.formatToParts(whole)) {
      switch (p.type) {
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          s = Number(p.value);
          break;
      }
    }
    const local = new Date(0);
    local.setUTCFullYear(y, mo - 1, d);
    local.setUTCHours(h, mi, s, 0);
    return local.getTime() - whole;
  }

  /** UTC instant of a wall-clock time (as Date.UTC of its fields) in this zone. */
  toUtc(wall: number): number {
    if (this.format === null) return wall;
    const bucket = Math.floor(wall / BUCKET);
    if (bucket !== this.lastBucket) {
      let offset = this.cache.get(bucket);
      if (offset === undefined) {
        offset = wall - this.resolve(wall);
        if (this.cache.size >= 4096) this.cache.clear();
        this.cache.set(bucket, offset);
      }
      this.lastBucket = bucket;
      this.lastOffset = offset;
    }
    return wall - this.lastOffset;
  }

  private resolve(wall: number): number {
    // The offsets a day either side bracket any transition near this wall time.
    const early = this.offsetAt(wall - DAY);
    const late = this.offsetAt(wall + DAY);
    const t1 = wall - early;
    const ok1 = this.offsetAt(t1) === early;
    if (early === late && ok1) return t1;
    const t2 = wall - late;
    const ok2 = this.offsetAt(t2) === late;
    if (ok1 && ok2) return Math.min(t1, t2); // overlap: the first occurrence
    if (ok1) return t1;
    if (ok2) return t2;
    return t1; // gap: read with the offset in force before it, which lands after the gap
  }
}

/**
 * Reads the timestamps of one input stream. Methods return the UTC time in ms, or NaN when the text
 * at `pos` is not a valid stamp of that kind; on success `end` is the index just after the stamp.
 */
export class SyslogClock {
  readonly zone: ZoneConverter;
  now = 0;
  /** Index just after the last stamp read. */
  end = 0;
  /** "now" as wall time in the stream's zone, its year, and the day (wall ms / DAY) that year is of. */
  private nowWall = 0;
  private nowYear = 0;
  private nowDay = Number.NaN;
  /** The zone's offset at "now", valid for the UTC quarter hour `nowBucket`. */
  private nowBucket = Number.NaN;
  private nowOffset = 0;
  private lastDayKey = -1;
  private lastDayBase = 0;

  constructor(ctx: ParseContext) {
    this.zone = new ZoneConverter(ctx.timeZone);
    this.setNow(ctx.now);
  }

  /**
   * Moves "now" (ms since the epoch), as the sensor does before each batch of lines. Costs one Intl
   * call per quarter hour at most: every zone in use today has offsets in whole quarter hours, so its
   * offset can change only on a UTC quarter hour.
   */
  setNow(now: number): void {
    this.now = now;
    const bucket = Math.floor(now / BUCKET);
    if (bucket !== this.nowBucket) {
      this.nowBucket = bucket;
      this.nowOffset = this.zone.offsetAt(now);
    }
    this.nowWall = now + this.nowOffset;
    // dayBase compares day starts with nowWall + FUTURE_SLACK, whose answer can change only when
    // nowWall crosses a midnight: its cached day stays right until then.
    const day = Math.floor(this.nowWall / DAY);
    if (day !== this.nowDay) {
      this.nowDay = day;
      this.nowYear = new Date(this.nowWall).getUTCFullYear();
      this.lastDayKey = -1;
    }
  }

  /** Wall time of a date and time in the given year, or NaN if it does not exist; years >= 1970 only. */
  static wall(y: number, month0: number, d: number, h: number, mi: number, s: number, ms: number): number {
    if (!validDateTime(y, month0, d, h, mi, s)) return Number.NaN;
    return Date.UTC(y, month0, d, h, mi, s, ms);
  }

  /**
   * Wall-clock midnight of a month and day that carry no year: the year of "now" in the stream's
   * zone, or the year before when that would put the day more than two days in the future. Feb 29
   * goes back to the latest leap year.
   */
  private dayBase(month0: number, d: number): number {
    const key = month0 * 32 + d;
    if (key === this.lastDayKey) return this.lastDayBase;
    if (month0 < 0 || month0 > 11 || d < 1 || d > 31) return Number.NaN;
    let y = this.nowYear;
    if (Date.UTC(y, month0, d) > this.nowWall + FUTURE_SLACK) y--;
    while (d > daysInMonth(y, month0) && y > this.nowYear - 8) y--;
    if (d > daysInMonth(y, month0) || y < MIN_YEAR) return Number.NaN;
    const base = Date.UTC(y, month0, d);
    this.lastDayKey = key;
    this.lastDayBase = base;
    return base;
  }

  /** Local time of a month/day without a year plus clock fields, to UTC. */
  yearless(month0: number, d: number, h: number, mi: number, s: number, ms: number): number {
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return Number.NaN;
    const base = this.dayBase(month0, d);
    if (Number.isNaN(base)) return base;
    return this.zone.toUtc(base + h * HOUR + mi * MINUTE + s * 1000 + ms);
  }

  /** Local wall time with a year, to UTC. */
  local(y: number, month0: number, d: number, h: number, mi: number, s: number, ms: number): number {
    const wall = SyslogClock.wall(y, month0, d, h, mi, s, ms);
    return Number.isNaN(wall) ? wall : this.zone.toUtc(wall);
  }

  /** Milliseconds of a fraction ".ddd…" at `pos` (0 if none); sets `end` past it. */
  private fraction(s: string, pos: number): number {
    if (s.charCodeAt(pos) !== 0x2e && s.charCodeAt(pos) !== 0x2c) {
      this.end = pos;
      return 0;
    }
    let i = pos + 1;
    let ms = 0;
    let scale = 100;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) break;
      ms += c * scale;
      scale /= 10;
    }
    this.end = i;
    return Math.floor(ms);
  }

  /** "hh:mm:ss[.fff]" at pos as ms into the day, or -1; sets `end`. */
  private clockAt(s: string, pos: number): number {
    const h = digitsAt(s, pos, 2);
    const mi = digitsAt(s, pos + 3, 2);
    const sec = digitsAt(s, pos + 6, 2);
    if (h < 0 || mi < 0 || sec < 0 || s.charCodeAt(pos + 2) !== 0x3a || s.charCodeAt(pos + 5) !== 0x3a)
      return -1;
    if (h > 23 || mi > 59 || sec > 60) return -1;
    return h * HOUR + mi * MINUTE + sec * 1000 + this.fraction(s, pos + 8);
  }

  /**
   * BSD syslog stamp "Mmm dd hh:mm:ss" (day space-padded or zero-padded), optional fraction
   * (journalctl short-precise), optional year after the day ("Mmm dd yyyy hh:mm:ss", Cisco).
   */
  bsd(s: string, pos: number): number {
    const month0 = monthAt(s, pos);
    if (month0 < 0 || s.charCodeAt(pos + 3) !== 0x20) return Number.NaN;
    let i = pos + 4;
    if (s.charCodeAt(i) === 0x20) i++;
    let d = digitsAt(s, i, 2);
    if (d >= 0) i += 2;
    else {
      d = digitsAt(s, i, 1);
      if (d < 0) return Number.NaN;
      i += 1;
    }
    if (s.charCodeAt(i) !== 0x20) return Number.NaN;
    i++;
    const year = s.charCodeAt(i + 4) === 0x20 ? digitsAt(s, i, 4) : -1;
    if (year >= 0) i += 5;
    const clock = this.clockAt(s, i);
    if (clock < 0) return Number.NaN;
    if (year >= 0) {
      const wall = SyslogClock.wall(year, month0, d, 0, 0, 0, 0);
      return Number.isNaN(wall) ? wall : this.zone.toUtc(wall + clock);
    }
    const base = this.dayBase(month0, d);
    return Number.isNaN(base) ? base : this.zone.toUtc(base + clock);
  }

  /**
   * RFC 3339 / ISO 8601 "yyyy-mm-ddThh:mm:ss[.f…][Z|±hh:mm|±hhmm]" ('T' or a space); without an
   * offset the time is local to the stream's zone.
   */
  iso(s: string, pos: number): number {
    const y = digitsAt(s, pos, 4);
    const mo = digitsAt(s, pos + 5, 2);
    const d = digitsAt(s, pos + 8, 2);
    if (y < 0 || mo < 0 || d < 0 || s.charCodeAt(pos + 4) !== 0x2d || s.charCodeAt(pos + 7) !== 0x2d) {
      return Number.NaN;
    }
    const sep = s.charCodeAt(pos + 10);
    if (sep !== 0x54 && sep !== 0x20 && sep !== 0x74) return Number.NaN;
    const clock = this.clockAt(s, pos + 11);
    if (clock < 0) return Number.NaN;
    const date = SyslogClock.wall(y, mo - 1, d, 0, 0, 0, 0);
    if (Number.isNaN(date)) return date;
    const wall = date + clock;
    let i = this.end;
    const c = s.charCodeAt(i);
    if (c === 0x5a || c === 0x7a) {
      this.end = i + 1;
      return wall;
    }
    if (c !== 0x2b && c !== 0x2d) return this.zone.toUtc(wall);
    const oh = digitsAt(s, i + 1, 2);
    if (oh < 0 || oh > 23) return Number.NaN;
    i += 3;
    if (s.charCodeAt(i) === 0x3a) i++;
    const om = digitsAt(s, i, 2);
    if (om < 0 || om > 59) return Number.NaN;
    this.end = i + 2;
    const offset = (oh * 60 + om) * MINUTE;
    return c === 0x2b ? wall - offset : wall + offset;
  }

  /** Unix epoch seconds "1681000000[.fff]" (9 to 11 digits, as DShield writes them). */
  epoch(s: string, pos: number): number {
    let i = pos;
    let v = 0;
    while (i < s.length && i - pos < 12) {
      const c = s.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    if (i - pos < 9 || i - pos > 11) return Number.NaN;
    return v * 1000 + this.fraction(s, i);
  }

  /**
   * The stamp at the start of a syslog line, after an optional "<pri>" and RFC 5424 version "1 ":
   * RFC 3339 or BSD. NaN when there is none or it is invalid; `end` is then the index after the
   * "<pri>" part (0 without one).
   */
  header(s: string): number {
    let i = 0;
    if (s.charCodeAt(0) === 0x3c) {
      const close = s.indexOf('>', 1);
      if (close > 1 && close <= 4 && digitsAt(s, 1, close - 1) >= 0) {
        i = close + 1;
        if (s.charCodeAt(i) === 0x31 && s.charCodeAt(i + 1) === 0x20) i += 2;
      }
    }
    const c = s.charCodeAt(i);
    const t = c >= 0x30 && c <= 0x39 ? this.iso(s, i) : this.bsd(s, i);
    if (Number.isNaN(t)) this.end = i;
    return t;
  }
}

/** A parser that knows the sensor's time: the part of the contract every parser implements alike. */
export abstract class TimedLineParser implements LineParser {
  abstract readonly format: FormatName;
  /** The sensor's clock at the last setNow: for stamp-less lines and checks against the future. */
  protected now: number;

  constructor(ctx: ParseContext) {
    this.now = ctx.now;
  }

  setNow(now: number): void {
    this.now = now;
  }

  abstract parse(line: string): ParseResult;
}

/**
 * What the syslog-framed firewall parsers share: a clock for year-less stamps that follows setNow,
 * and no exception ever escaping parse (a bug in a reader becomes an error result, not a crash).
 */
export abstract class ClockedLineParser extends TimedLineParser {
  protected readonly clock: SyslogClock;

  constructor(ctx: ParseContext) {
    super(ctx);
    this.clock = new SyslogClock(ctx);
  }

  override setNow(now: number): void {
    super.setNow(now);
    this.clock.setNow(now);
  }

  parse(line: string): ParseResult {
    try {
      return this.parseLine(line);
    } catch (e) {
      return { kind: 'error', message: `internal parser error: ${String(e)}` };
    }
  }

  protected abstract parseLine(line: string): ParseResult;
}
