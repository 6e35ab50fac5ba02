// A minimal streaming ZIP writer: STORE method (no compression), entries streamed through with a
// CRC-32 computed on the way and a data descriptor after each (general purpose bit 3), UTF-8 names
// (bit 11), then the central directory. Nothing is buffered but the directory, so a ZIP of any
// length goes straight into blob storage. No ZIP64: an archive past 4 GiB is refused.
// (No zip library is a declared dependency; fflate is only pdfkit's transitive one.)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), continued from `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const LIMIT = 0xffffffff;

function dosTime(date: Date): { time: number; date: number } {
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    date: ((Math.max(date.getUTCFullYear(), 1980) - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

type Entry = { name: Uint8Array; crc: number; size: number; offset: number; time: number; date: number };
export type ZipSource = Uint8Array | string | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

export type ZipWriter = {
  /** Streams one file into the archive; entries are written one after another. */
  add(name: string, source: ZipSource): Promise<void>;
  /** Writes the central directory; returns the archive's byte length. */
  finish(): Promise<number>;
  readonly entries: readonly string[];
};

/** `write` receives the archive's bytes in order and resolves when the sink can take more. */
export function zipWriter(write: (chunk: Uint8Array) => Promise<void>, options: { now?: Date } = {}): ZipWriter {
  const entries: Entry[] = [];
  const names: string[] = [];
  const stamp = dosTime(options.now ?? new Date());
  const encoder = new TextEncoder();
  let offset = 0;
  let busy = false;

  async function emit(chunk: Uint8Array) {
    offset += chunk.length;
    if (offset > LIMIT) throw new Error("the archive is larger than 4 GiB (no ZIP64 support)");
    await write(chunk);
  }

  return {
    entries: names,
    async add(name, source) {
      if (busy) throw new Error("zip entries are written one at a time");
      if (!name || name.startsWith("/") || name.split("/").includes("..")) throw new Error(`unsafe zip entry name: ${name}`);
      busy = true;
      try {
        const nameBytes = encoder.encode(name);
        const entry: Entry = { name: nameBytes, crc: 0, size: 0, offset, ...stamp };
        const header = new DataView(new ArrayBuffer(30));
        header.setUint32(0, 0x04034b50, true);
        header.setUint16(4, 20, true);
        header.setUint16(6, 0x0808, true); // data descriptor follows; UTF-8 name
        header.setUint16(8, 0, true); // STORE
        header.setUint16(10, entry.time, true);
        header.setUint16(12, entry.date, true);
        // crc, sizes: 0 here, in the data descriptor
        header.setUint16(26, nameBytes.length, true);
        header.setUint16(28, 0, true);
        await emit(new Uint8Array(header.buffer));
        await emit(nameBytes);
        const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
          typeof source === "string" ? [encoder.encode(source)] : source instanceof Uint8Array ? [source] : (source as AsyncIterable<Uint8Array>);
        for await (const chunk of chunks) {
          if (chunk.length === 0) continue;
          entry.crc = crc32(chunk, entry.crc);
          entry.size += chunk.length;
          await emit(chunk);
        }
        const descriptor = new DataView(new ArrayBuffer(16));
        descriptor.setUint32(0, 0x08074b50, true);
        descriptor.setUint32(4, entry.crc, true);
        descriptor.setUint32(8, entry.size, true);
        descriptor.setUint32(12, entry.size, true);
        await emit(new Uint8Array(descriptor.buffer));
        entries.push(entry);
        names.push(name);
      } finally {
        busy = false;
      }
    },
    async finish() {
      const start = offset;
      for (const e of entries) {
        const central = new DataView(new ArrayBuffer(46));
        central.setUint32(0, 0x02014b50, true);
        central.setUint16(4, 20, true);
        central.setUint16(6, 20, true);
        central.setUint16(8, 0x0808, true);
        central.setUint16(10, 0, true);
        central.setUint16(12, e.time, true);
        central.setUint16(14, e.date, true);
        central.setUint32(16, e.crc, true);
        central.setUint32(20, e.size, true);
        central.setUint32(24, e.size, true);
        central.setUint16(28, e.name.length, true);
        // extra, comment, disk, internal and external attributes: 0
        central.setUint32(42, e.offset, true);
        await emit(new Uint8Array(central.buffer));
        await emit(e.name);
      }
      const end = new DataView(new ArrayBuffer(22));
      end.setUint32(0, 0x06054b50, true);
      end.setUint16(8, entries.length, true);
      end.setUint16(10, entries.length, true);
      end.setUint32(12, offset - start, true);
      end.setUint32(16, start, true);
      await emit(new Uint8Array(end.buffer));
      return offset;
    },
  };
}
