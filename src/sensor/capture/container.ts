// Streaming reader of the pcap and pcapng file formats: bytes in, in any chunk sizes, captured packets out.
//
// Follows the libpcap file format (pcap-savefile(5)) and draft-ietf-opsawg-pcapng: both byte orders,
// micro- and nanosecond pcap, pcapng sections with several interfaces each with its own link type
// and timestamp resolution. A damaged file ends the reading with one error, never an exception.

/** One captured packet; `data` is only valid until the next call into the reader. */
export interface CapturedPacket {
  /** 1-based position in the capture, for messages. */
  index: number;
  linkType: number;
  /** Milliseconds since the epoch. */
  timeMs: number;
  /** The captured bytes (possibly fewer than the packet had: see `origLen`). */
  data: Buffer;
  origLen: number;
}

/**
 * A packet; a packet that cannot be read although the file around it is intact (`bad-packet`,
 * reading goes on); or damage that ends the reading (`fatal`).
 */
export type ContainerItem =
  | { kind: 'packet'; packet: CapturedPacket }
  | { kind: 'bad-packet'; index: number; message: string }
  | { kind: 'fatal'; message: string };

/** A record longer than this is taken as corruption: no link type captures 16 MiB in one packet. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetsov's patched libpcap: 8 more bytes per record header. */
const PCAP_MAGIC_KUZNETSOV = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

const BLOCK_IDB = 1;
const BLOCK_OPB = 2; // obsolete Packet Block
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;

/** True when the bytes start like a pcap or pcapng file. */
export function looksLikeCapture(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const b = Buffer.from(head.buffer, head.byteOffset, 4);
  const le = b.readUInt32LE(0);
  const be = b.readUInt32BE(0);
  return (
    be === PCAPNG_SHB ||
    [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETSOV].some((m) => m === le || m === be)
  );
}

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second: 10^n or 2^n (if_tsresol); 10^6 by default. */
  unitsPerSecond: number;
  /** 10^(n-3) when the resolution is 10^n with n >= 3, else 0: the fast path for ms conversion. */
  unitsPerMs: number;
  offsetMs: number;
}

type State = 'start' | 'pcap' | 'pcapng' | 'done';

export class CaptureContainerReader {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #state: State = 'start';
  #packets = 0;
  // pcap
  #littleEndian = true;
  #fracPerMs = 1000;
  #recordHeader = 16;
  #linkType = 0;
  // pcapng
  #interfaces: Interface[] = [];

  /** Packets (and at most one fatal error) found in the bytes so far. */
  *push(chunk: Uint8Array): Generator<ContainerItem> {
    if (this.#state === 'done' || chunk.length === 0) return;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.#buf = this.#pos < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#pos), bytes]) : bytes;
    this.#pos = 0;
    for (;;) {
      const item = this.#next();
      if (item === null) return;
      yield item;
      if (item.kind === 'fatal') {
        this.#state = 'done';
        return;
      }
    }
  }

  /** Call at the end of input: a partial record left over is a truncated file. */
  *end(): Generator<ContainerItem> {
    if (this.#state === 'done') return;
    const left = this.#buf.length - this.#pos;
    const wasStart = this.#state === 'start';
    this.#state = 'done';
    if (wasStart) {
      yield {
        kind: 'fatal',
        message: left === 0 ? 'empty capture' : `capture ends after ${left} bytes, inside the file header`,
      };
    } else if (left > 0) {
      yield {
        kind: 'fatal',
        message: `capture truncated: ${left} bytes of an incomplete record after packet ${this.#packets}`,
      };
    }
    this.#buf = Buffer.alloc(0);
    this.#pos = 0;
  }

  get packetCount(): number {
    return this.#packets;
  }

  #available(): number {
    return this.#buf.length - this.#pos;
  }

  #u32(at: number, le: boolean): number {
    return le ? this.#buf.readUInt32LE(at) : this.#buf.readUInt32BE(at);
  }

  #u16(at: number, le: boolean): number {
    return le ? this.#buf.readUInt16LE(at) : this.#buf.readUInt16BE(at);
  }

  /** The next item, or null when more bytes are needed. */
  #next(): ContainerItem | null {
    if (this.#state === 'start') {
      const header = this.#fileHeader();
      if (header !== null) return header;
      if (this.#state === 'start') return null;
    }
    return this.#state === 'pcap' ? this.#pcapRecord() : this.#pcapngBlock();
  }

  /** Reads the pcap file header or recognises pcapng; returns an error for anything else. */
  #fileHeader(): ContainerItem | null {
    if (this.#available() < 4) return null;
    const p = this.#pos;
    if (this.#buf.readUInt32BE(p) === PCAPNG_SHB) {
      this.#state = 'pcapng';
      return null;
    }
    if (this.#available() < 24) {
      return this.#isPcapMagic() ? null : this.#notCapture();
    }
    const le = this.#buf.readUInt32LE(p);
    const be = this.#buf.readUInt32BE(p);
    let magic: number;
    if ([PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETSOV].includes(le)) {
      this.#littleEndian = true;
      magic = le;
    } else if ([PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETSOV].includes(be)) {
      this.#littleEndian = false;
      magic = be;
    } else {
      return this.#notCapture();
    }
    this.#fracPerMs = magic === PCAP_MAGIC_NS ? 1_000_000 : 1000;
    this.#recordHeader = magic === PCAP_MAGIC_KUZNETSOV ? 24 : 16;
    // The link type is the low 16 bits; newer libpcap keeps FCS information in the top bits.
    this.#linkType = this.#u32(p + 20, this.#littleEndian) & 0xffff;
    this.#pos += 24;
    this.#state = 'pcap';
    return null;
  }

  #isPcapMagic(): boolean {
    const le = this.#buf.readUInt32LE(this.#pos);
    const be = this.#buf.readUInt32BE(this.#pos);
    return [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETSOV].some((m) => m === le || m === be);
  }

  #notCapture(): ContainerItem {
    const magic = this.#buf.subarray(this.#pos, this.#pos + 4).toString('hex');
    return { kind: 'fatal', message: `not a pcap or pcapng file (starts with 0x${magic})` };
  }

  #pcapRecord(): ContainerItem | null {
    const h = this.#recordHeader;
    if (this.#available() < h) return null;
    const p = this.#pos;
    const le = this.#littleEndian;
    const capLen = this.#u32(p + 8, le);
    if (capLen > MAX_RECORD_BYTES) {
      return {
        kind: 'fatal',
        message: `record after packet ${this.#packets} claims ${capLen} captured bytes: file damaged`,
      };
    }
    if (this.#available() < h + capLen) return null;
    const seconds = this.#u32(p, le);
    const fraction = this.#u32(p + 4, le);
    const origLen = this.#u32(p + 12, le);
    this.#pos += h + capLen;
    this.#packets++;
    return {
      kind: 'packet',
      packet: {
        index: this.#packets,
        linkType: this.#linkType,
        timeMs: seconds * 1000 + Math.floor(fraction / this.#fracPerMs),
        data: this.#buf.subarray(p + h, p + h + capLen),
        origLen,
      },
    };
  }

  /** Reads pcapng blocks until one yields a packet or an error, or more bytes are needed. */
  #pcapngBlock(): ContainerItem | null {
    for (;;) {
      if (this.#available() < 12) return null;
      const p = this.#pos;
      const typeBE = this.#buf.readUInt32BE(p);
      if (typeBE === PCAPNG_SHB) {
        // The byte-order magic after the length decides how this section, the SHB included, is read.
        const bom = this.#buf.readUInt32LE(p + 8);
        if (bom === PCAPNG_BOM) this.#littleEndian = true;
        else if (this.#buf.readUInt32BE(p + 8) === PCAPNG_BOM) this.#littleEndian = false;
        else
          return {
            kind: 'fatal',
            message: `pcapng section header with a bad byte-order magic after packet ${this.#packets}`,
          };
      }
      const le = this.#littleEndian;
      const type = this.#u32(p, le);
      const len = this.#u32(p + 4, le);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD_BYTES) {
        return {
          kind: 'fatal',
          message: `pcapng block of type ${type} has a bad length ${len}: file damaged`,
        };
      }
      if (this.#available() < len) return null;
      if (this.#u32(p + len - 4, le) !== len) {
        return {
          kind: 'fatal',
          message: `pcapng block of type ${type} has mismatched lengths: file damaged`,
        };
      }
      this.#pos += len;
      const item = this.#block(type, p, len);
      if (item !== null) return item;
    }
  }

  #block(type: number, p: number, len: number): ContainerItem | null {
    const le = this.#littleEndian;
    switch (type) {
      case PCAPNG_SHB:
        this.#interfaces = []; // interface ids are per section
        return null;
      case BLOCK_IDB:
        return this.#interfaceBlock(p, len);
      case BLOCK_EPB:
      case BLOCK_OPB: {
        this.#packets++;
        if (len < 32) return this.#packetError('packet block too short');
        const ifaceId = type === BLOCK_EPB ? this.#u32(p + 8, le) : this.#u16(p + 8, le);
        const iface = this.#interfaces[ifaceId];
        if (iface === undefined)
          return this.#packetError(`packet names interface ${ifaceId}, which was not described`);
        const capLen = this.#u32(p + 20, le);
        if (28 + capLen > len - 4) return this.#packetError('packet data runs past its block');
        const time = this.#timeMs(iface, this.#u32(p + 12, le), this.#u32(p + 16, le));
        return this.#packet(iface, time, this.#buf.subarray(p + 28, p + 28 + capLen), this.#u32(p + 24, le));
      }
      case BLOCK_SPB: {
        this.#packets++;
        const iface = this.#interfaces[0];
        if (iface === undefined) return this.#packetError('simple packet block before any interface');
        const origLen = this.#u32(p + 8, le);
        let capLen = Math.min(origLen, len - 16);
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        // Simple packet blocks carry no timestamp.
        return this.#packet(iface, NaN, this.#buf.subarray(p + 12, p + 12 + capLen), origLen);
      }
      default:
        return null; // statistics, name resolution, journal, custom blocks: nothing to report
    }
  }

  #packet(iface: Interface, timeMs: number, data: Buffer, origLen: number): ContainerItem {
    return {
      kind: 'packet',
      packet: { index: this.#packets, linkType: iface.linkType, timeMs, data, origLen },
    };
  }

  #packetError(message: string): ContainerItem {
    return { kind: 'bad-packet', index: this.#packets, message };
  }

  #interfaceBlock(p: number, len: number): ContainerItem | null {
    const le = this.#littleEndian;
    if (len < 20)
      return { kind: 'fatal', message: 'pcapng interface description block too short: file damaged' };
    const iface: Interface = {
      linkType: this.#u16(p + 8, le),
      snapLen: this.#u32(p + 12, le),
      unitsPerSecond: 1e6,
      unitsPerMs: 1000,
      offsetMs: 0,
    };
    // Options: code, length, value padded to 4 bytes; code 0 ends them.
    let o = p + 16;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = this.#u16(o, le);
      const optLen = this.#u16(o + 2, le);
      if (code === 0 || o + 4 + optLen > end) break;
      if (code === 9 && optLen >= 1) {
        const r = this.#buf[o + 4];
        const exp = r & 0x7f;
        if (r & 0x80) {
          iface.unitsPerSecond = 2 ** exp;
          iface.unitsPerMs = 0;
        } else {
          iface.unitsPerSecond = 10 ** exp;
          iface.unitsPerMs = exp >= 3 ? 10 ** (exp - 3) : 0;
        }
      } else if (code === 14 && optLen >= 8) {
        const offsetSeconds = le ? this.#buf.readBigInt64LE(o + 4) : this.#buf.readBigInt64BE(o + 4);
        iface.offsetMs = Number(offsetSeconds) * 1000;
      }
      o += 4 + ((optLen + 3) & ~3);
    }
    this.#interfaces.push(iface);
    return null;
  }

  /** Milliseconds of a 64-bit pcapng timestamp, exactly: numbers while they are exact, BigInt beyond. */
  #timeMs(iface: Interface, high: number, low: number): number {
    if (iface.unitsPerSecond === 0 || !Number.isFinite(iface.unitsPerSecond)) return NaN;
    if (high < 0x200000 && iface.unitsPerMs > 0) {
      return Math.floor((high * 0x100000000 + low) / iface.unitsPerMs) + iface.offsetMs;
    }
    const ts = (BigInt(high) << 32n) | BigInt(low);
    const units = iface.unitsPerMs > 0 ? BigInt(iface.unitsPerMs) : null;
    const ms = units !== null ? ts / units : (ts * 1000n) / BigInt(iface.unitsPerSecond);
    return Number(ms) + iface.offsetMs;
  }
}
