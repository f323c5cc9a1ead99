import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chipGeometry, chipKind, MAX_HEADER_LINE_BYTES, parsePercentHeader, scanAedatHeader } from '../../../../core/events/formats/header.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

describe('scanAedatHeader on real jAER headers', () => {
  const f128 = sharedFile('jaer-aedat2-headers/header_test_128.aedat_test');
  const f240 = sharedFile('jaer-aedat2-headers/header_test_240.aedat_test');
  const f346 = sharedFile('tonic-davis346-aedat2-header/sample_aedat_header.aedat');

  it.skipIf(!f128)('DVS128 header ends at 4241 (upstream value), CRLF, fields parsed', () => {
    const h = scanAedatHeader(readFileSync(f128!));
    expect(h.dataOffset).toBe(4241);
    expect(h.version).toBe('2.0');
    expect(h.endLine).toBe('#End Of ASCII Header');
    expect(h.lineEnding).toBe('CRLF');
    expect(h.complete).toBe(true);
    expect(h.fields.AEChip).toBe('ch.unizh.ini.jaer.chip.retina.DVS128');
    expect(h.fields.HardwareInterface).toBe('DVS128-V1 0249');
    expect(h.fields['Creation time']).toBe('System.currentTimeMillis() 1531242221262');
    expect(h.fields.DataStartTime).toBe('System.currentTimeMillis() 1531242221282');
  });

  it.skipIf(!f240)('DAVIS240C header (≈300 kB preference dump) ends at 303869; a short read asks for more', () => {
    const bytes = readFileSync(f240!);
    const h = scanAedatHeader(bytes);
    expect(h.dataOffset).toBe(303869);
    expect(h.fields.AEChip).toBe('eu.seebetter.ini.chips.davis.DAVIS240C');
    expect(h.fields.HardwareInterface).toBe('DAVIS240 00000000');
    expect(h.fields.DataStartTime).toBe('System.currentTimeMillis() 1550780654891');
    const part = scanAedatHeader(bytes.subarray(0, 65536), { fileSize: bytes.length });
    expect(part.complete).toBe(false);
  });

  it.skipIf(!f346)('DAVIS346 LF header cut inside the XML: version 2.0, creation time, whole file is header', () => {
    const bytes = readFileSync(f346!);
    const h = scanAedatHeader(bytes, { recordSize: 8 });
    expect(h.version).toBe('2.0');
    expect(h.lineEnding).toBe('LF');
    expect(h.fields['Creation time']).toBe('System.currentTimeMillis() 1695355587880');
    expect(h.fields.AEChip).toBe('eu.seebetter.ini.chips.davis.Davis346red');
    expect(h.reachesEof).toBe(true);
    expect(h.dataOffset).toBe(599);
  });
});

describe('scanAedatHeader end-of-header rules', () => {
  const head = enc('#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n#End of Preferences for this AEChip\r\n');

  it('explicit end line (case-insensitive) wins over data that starts with #', () => {
    const data = enc('#Abc\r\n\x01\x02');
    const bytes = cat(enc('#!AER-DAT2.0\r\n#end of ascii header\r\n'), data);
    const h = scanAedatHeader(bytes);
    expect(h.endLine).toBe('#End Of ASCII Header');
    expect(h.dataOffset).toBe(bytes.length - data.length);
  });

  it('without an end line, binary starting with 0x23 and holding a control byte is not header', () => {
    // DAVIS DVS event with raw y in 140–143: first byte 0x23; then a timestamp with a NUL byte and an LF.
    const data = new Uint8Array([0x23, 0x41, 0x20, 0x00, 0x00, 0x00, 0x0a, 0x10]);
    const bytes = cat(head, data);
    const h = scanAedatHeader(bytes, { recordSize: 8 });
    expect(h.dataOffset).toBe(head.length);
    expect(h.lines.length).toBe(3);
  });

  it('a clean letter-free "# 1" line in the data is dropped when the record-size check says so', () => {
    // Two records: '# 1\n' + 4 bytes, then 8 more bytes. Taking "# 1\n" as header would leave 12 bytes.
    const data = new Uint8Array([0x23, 0x20, 0x31, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x06]);
    const bytes = cat(head, data);
    expect(scanAedatHeader(bytes, { recordSize: 8 }).dataOffset).toBe(head.length);
    // Without the record size the ambiguity cannot be resolved (documented behaviour).
    expect(scanAedatHeader(bytes).dataOffset).toBe(head.length + 4);
  });

  it('a real header line is never dropped by the record-size check (truncated body keeps its header)', () => {
    const bytes = cat(head, new Uint8Array(13));
    expect(scanAedatHeader(bytes, { recordSize: 8 }).dataOffset).toBe(head.length);
  });

  it('AEDAT 3.1: #!END-HEADER closes the header; no version line → version null', () => {
    const bytes = cat(enc('#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n'), new Uint8Array([1, 0, 1, 0]));
    const h = scanAedatHeader(bytes);
    expect(h.endLine).toBe('#!END-HEADER');
    expect(h.version).toBe('3.1');
    expect(h.fields['Source 1']).toBe('DVS128');
    expect(h.fields.Format).toBe('RAW');
    expect(h.dataOffset).toBe(bytes.length - 4);
    expect(scanAedatHeader(enc('# AEChip: x\r\n\x00')).version).toBeNull();
  });

  it('decodes latin-1 bytes one to one, not as UTF-8', () => {
    const bytes = cat(enc('#!AER-DAT2.0\r\n# User name: Jos'), new Uint8Array([0xe9, 0x0d, 0x0a]), enc('#End Of ASCII Header\r\n'));
    expect(scanAedatHeader(bytes).fields['User name']).toBe('Jos\u00e9');
  });

  it('refuses an over-long line and reports an incomplete scan of a short read', () => {
    const long = cat(enc('#!AER-DAT2.0\r\n#'), new Uint8Array(MAX_HEADER_LINE_BYTES + 10).fill(0x41), enc('\r\n'));
    expect(scanAedatHeader(long).dataOffset).toBe(14);
    const h = scanAedatHeader(enc('#!AER-DAT2.0\r\n# AEChip: a'), { fileSize: 1000 });
    expect(h.complete).toBe(false);
  });

  it('no header at all → dataOffset 0', () => {
    const h = scanAedatHeader(new Uint8Array([1, 2, 3]));
    expect(h.dataOffset).toBe(0);
    expect(h.lines).toEqual([]);
  });
});

describe('parsePercentHeader', () => {
  const ncars = sharedFile('tonic-ncars-dat/sample_ncars.dat');
  const evt2 = sharedFile('expelliarmus-evt2-gen3/evt2_sample.raw');
  it.skipIf(!ncars)('N-CARS DAT header: three lines, data (type byte) at 91', () => {
    const f = ncars;
    const h = parsePercentHeader(readFileSync(f!));
    expect(h.dataOffset).toBe(0x5b);
    expect(h.lines).toEqual(['Data file containing N9Chronocam7Event2dE events.', 'Version 2', 'Date 2017-10-31 11:29:21']);
    expect(h.fields).toEqual({ Data: 'file containing N9Chronocam7Event2dE events.', Version: '2', Date: '2017-10-31 11:29:21' });
  });

  it.skipIf(!evt2)('EVT2 RAW header ends at 164 (no % end line)', () => {
    const f = evt2;
    const h = parsePercentHeader(readFileSync(f!).subarray(0, 65536));
    expect(h.dataOffset).toBe(164);
    expect(h.fields.evt).toBe('2.0');
    expect(h.fields.serial_number).toBe('30384338');
  });

  it('stops after % end, tolerates CRLF and bare % lines, rejects binary after %', () => {
    const b = enc('% format EVT3;height=720;width=1280\r\n%\n% end\n% not header\n');
    const h = parsePercentHeader(b);
    expect(h.lines).toEqual(['format EVT3;height=720;width=1280', '', 'end']);
    expect(h.fields.format).toBe('EVT3;height=720;width=1280');
    expect(h.dataOffset).toBe(enc('% format EVT3;height=720;width=1280\r\n%\n% end\n').length);
    expect(parsePercentHeader(new Uint8Array([0x25, 0x20, 0x01, 0x0a])).dataOffset).toBe(0);
    expect(parsePercentHeader(enc('% unterminated')).dataOffset).toBe(0);
  });
});

describe('chip names', () => {
  it('maps jAER AEChip classes and cAER source names to layouts and sizes', () => {
    expect(chipKind('ch.unizh.ini.jaer.chip.retina.DVS128')).toBe('dvs128');
    expect(chipKind('eu.seebetter.ini.chips.davis.Davis346red')).toBe('davis');
    expect(chipKind('ch.unizh.ini.jaer.chip.cochlea.CochleaAMS1c')).toBeNull();
    expect(chipGeometry('eu.seebetter.ini.chips.davis.DAVIS240C')).toEqual({ width: 240, height: 180 });
    expect(chipGeometry('eu.seebetter.ini.chips.davis.Davis346red')).toEqual({ width: 346, height: 260 });
    expect(chipGeometry('eu.seebetter.ini.chips.davis.Davis640')).toEqual({ width: 640, height: 480 });
    expect(chipGeometry('DVS128')).toEqual({ width: 128, height: 128 });
    expect(chipGeometry('DAVIS346B')).toEqual({ width: 346, height: 260 });
    expect(chipGeometry('Unknown')).toBeNull();
  });
});
