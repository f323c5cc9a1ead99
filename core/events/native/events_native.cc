// Native fast path for the event codecs: LZ4 frame decode/encode (the same algorithm, byte for byte, as the
// TypeScript reference in core/events/codecs/lz4.ts) and the AEDAT 4 Event-struct → struct-of-arrays unpacking.
//
// Rules: N-API only (node-addon-api, no C++ exceptions). Every read and write is bounds-checked against the
// buffers JavaScript passed in; the code never allocates output. Errors are returned as negative codes; the
// JavaScript wrapper then re-runs the TypeScript decoder on the same bytes to produce the detailed message, so
// both paths report identical errors.
#include <napi.h>
#if defined(_MSC_VER)
#include <intrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace {

// ------------------------------------------------------------------------------------------ portability
// GCC/Clang builtins, with MSVC equivalents (the TypeScript fallback covers any compiler this does not build on).
#if defined(_MSC_VER)
inline uint32_t Bswap32(uint32_t v) { return _byteswap_ulong(v); }
inline uint32_t Ctz32(uint32_t v) {
  unsigned long i;
  _BitScanForward(&i, v);
  return uint32_t(i);
}
#define EVENTS_UNLIKELY(x) (x)
#define EVENTS_LIKELY(x) (x)
#define EVENTS_NOINLINE __declspec(noinline)
#define EVENTS_INLINE __forceinline
#else
inline uint32_t Bswap32(uint32_t v) { return __builtin_bswap32(v); }
inline uint32_t Ctz32(uint32_t v) { return uint32_t(__builtin_ctz(v)); }
#define EVENTS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define EVENTS_LIKELY(x) __builtin_expect(!!(x), 1)
#define EVENTS_NOINLINE __attribute__((noinline))
// Forced for the decode *CleanBody kernels: they must be compiled inside their AVX2 clones (a plain `inline` body
// that GCC chose not to inline would run as one SSE2 copy for both clones).
#define EVENTS_INLINE __attribute__((always_inline)) inline
#endif

// ------------------------------------------------------------------------------------------ helpers

inline uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void wr32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}
inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

constexpr uint32_t P1 = 0x9e3779b1u, P2 = 0x85ebca77u, P3 = 0xc2b2ae3du, P4 = 0x27d4eb2fu, P5 = 0x165667b1u;

uint32_t xxh32(const uint8_t* p, size_t len, uint32_t seed) {
  const uint8_t* end = p + len;
  uint32_t h;
  if (len >= 16) {
    uint32_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    const uint8_t* limit = end - 16;
    while (p <= limit) {
      v1 = rotl32(v1 + rd32(p) * P2, 13) * P1;
      v2 = rotl32(v2 + rd32(p + 4) * P2, 13) * P1;
      v3 = rotl32(v3 + rd32(p + 8) * P2, 13) * P1;
      v4 = rotl32(v4 + rd32(p + 12) * P2, 13) * P1;
      p += 16;
    }
    h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
  } else {
    h = seed + P5;
  }
  h += uint32_t(len);
  while (p + 4 <= end) {
    h = rotl32(h + rd32(p) * P3, 17) * P4;
    p += 4;
  }
  while (p < end) {
    h = rotl32(h + uint32_t(*p) * P5, 11) * P1;
    p++;
  }
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

const size_t kBlockMax[8] = {0, 0, 0, 0, 64u << 10, 256u << 10, 1u << 20, 4u << 20};

enum Err : int32_t {
  kOk = 0,
  kBadHeader = -1,
  kTruncated = -2,
  kBadBlock = -3,
  kOutputFull = -4,
  kChecksum = -5,
  kBadArgs = -6,
};

// ------------------------------------------------------------------------------------------ LZ4 decode

// LZ4's length extension after a token nibble of 15: bytes are added while they are 255. False when the block ends
// inside it.
EVENTS_INLINE bool AddLengthBytes(const uint8_t* src, size_t& ip, size_t iend, size_t& n) {
  uint32_t b;
  do {
    if (ip >= iend) return false;
    b = src[ip++];
    n += b;
  } while (b == 255);
  return true;
}

// One sequence of a block at src[ip]: its literals, then (unless the block ends there) its match, ip and op advanced.
// Returns kSeqMore, kSeqEnd (the block ended after the literals: op is its decoded length) or a negative Err. Every
// copy is bounds-checked; the fixed-size copies write past the run only where the output has room.
constexpr int32_t kSeqMore = 1, kSeqEnd = 2;
EVENTS_INLINE int32_t DecodeSequence(const uint8_t* src, size_t& ip, size_t iend, uint8_t* out, size_t& op, size_t oend,
                                     size_t window) {
  const uint32_t token = src[ip++];
  size_t lit = token >> 4;
  if (lit == 15 && !AddLengthBytes(src, ip, iend, lit)) return kBadBlock;
  if (lit > iend - ip) return kBadBlock;
  if (lit > oend - op) return kOutputFull;
  // Short runs: one fixed-size copy (bytes past lit are rewritten later). The width matters: AEDAT 4 event
  // structs decode as 1-3 literal bytes then a match that reads back the previous event; a 4-byte store for the
  // common 1-4 byte run overlaps fewer of the bytes that next match loads, so fewer loads have to wait for
  // several older stores to retire (~15% on the bench's 2,048-event packets).
  if (lit <= 4 && iend - ip >= 4 && oend - op >= 4) {
    std::memcpy(out + op, src + ip, 4);
  } else if (lit <= 16 && iend - ip >= 16 && oend - op >= 16) {
    std::memcpy(out + op, src + ip, 16);
  } else {
    std::memcpy(out + op, src + ip, lit);
  }
  ip += lit;
  op += lit;
  if (ip == iend) return kSeqEnd;
  if (iend - ip < 2) return kBadBlock;
  const size_t offset = size_t(src[ip]) | (size_t(src[ip + 1]) << 8);
  ip += 2;
  if (offset == 0 || offset > op - window) return kBadBlock;
  size_t len = token & 15;
  if (len == 15 && !AddLengthBytes(src, ip, iend, len)) return kBadBlock;
  len += 4;
  if (len > oend - op) return kOutputFull;
  uint8_t* d = out + op;
  const uint8_t* s = d - offset;
  if (offset >= 8 && len <= 8 && oend - op >= 8) {
    std::memcpy(d, s, 8);  // the common 4-8 byte match of an event struct: one load, one store
  } else if (offset >= 16 && len <= 16 && oend - op >= 16) {
    // Two 8-byte copies, not one of 16: the source was written moments ago by other, differently aligned copies,
    // and a narrower load is more often forwarded from one earlier store (~5% on 16-byte event structs).
    std::memcpy(d, s, 8);
    std::memcpy(d + 8, s + 8, 8);
  } else if (offset >= 8 && oend - op >= len + 8) {
    // Non-overlapping at 8-byte granularity; may write up to 7 bytes past len (still inside oend, rewritten later).
    uint8_t* e = d + len;
    do {
      std::memcpy(d, s, 8);
      d += 8;
      s += 8;
    } while (d < e);
  } else {
    for (size_t k = 0; k < len; k++) d[k] = s[k];
  }
  op += len;
  if (ip >= iend) return kBadBlock;  // a block ends with literals, never right after a match
  return kSeqMore;
}

// Decodes one block src[ip, iend) into out[op, oend); matches may not reach below `window`.
int64_t DecodeBlock(const uint8_t* src, size_t ip, size_t iend, uint8_t* out, size_t op, size_t oend, size_t window) {
  if (ip == iend) return kBadBlock;
  for (;;) {
    const int32_t r = DecodeSequence(src, ip, iend, out, op, oend, window);
    if (r != kSeqMore) return r == kSeqEnd ? int64_t(op) : int64_t(r);
  }
}

// The block decoder used by DecodeFrame. While the input has ≥ 32 bytes left and the output ≥ 64, the common sequence
// of an AEDAT 4 event packet (≤ 14 literals, then a 4..18 byte match at offset ≥ 8) runs without any bounds test: one
// 16-byte literal copy and three fixed match copies, whose bytes past the run are rewritten by the next sequence.
// Every other sequence, and the tail of the block, goes through DecodeSequence, so results and errors are DecodeBlock's
// on every input (the tests compare both with the TypeScript decoder, deep inside long blocks too). Measured on the
// bench's DVXplorer packets, frame decoding alone, both builds loaded in one process and timed in turns: 1.03-1.04x
// DecodeBlock (~80 Mev/s); a standalone build of the same loop ran as fast as liblz4 1.9.4's LZ4_decompress_safe.
int64_t DecodeBlockFast(const uint8_t* src, size_t ip, size_t iend, uint8_t* out, size_t op, size_t oend, size_t window) {
  if (ip == iend) return kBadBlock;
  while (iend - ip >= 32 && oend - op >= 64) {
    const uint32_t token = src[ip];
    const size_t lit = token >> 4, len = token & 15;
    if (EVENTS_LIKELY(lit != 15 && len != 15)) {
      const size_t offset = size_t(src[ip + 1 + lit]) | (size_t(src[ip + 2 + lit]) << 8);
      if (EVENTS_LIKELY(offset >= 8 && offset <= op + lit - window)) {
        std::memcpy(out + op, src + ip + 1, 16);
        ip += 3 + lit;
        op += lit;
        // 8 + 8 + 2 bytes, each copy finished before the next reads: with an offset of 8..17 the later copies read
        // bytes the earlier ones wrote, as LZ4's overlapping matches require; no copy overlaps its own source.
        uint8_t* d = out + op;
        const uint8_t* s = d - offset;
        std::memcpy(d, s, 8);
        std::memcpy(d + 8, s + 8, 8);
        std::memcpy(d + 16, s + 16, 2);
        op += len + 4;
        continue;
      }
    }
    const int32_t r = DecodeSequence(src, ip, iend, out, op, oend, window);
    if (r != kSeqMore) return r == kSeqEnd ? int64_t(op) : int64_t(r);
  }
  return DecodeBlock(src, ip, iend, out, op, oend, window);
}

// An LZ4 frame header (after any skippable frames): flags, block maximum, content size (−1 when absent) and where
// the first block starts. Refusals in this order: short input, magic, flags, block size, content size (above
// maxContent: kOutputFull), header checksum (when verify).
struct FrameHeader {
  uint8_t flg;
  size_t blockMax;
  int64_t contentSize;
  size_t dataStart;
};

int32_t ReadFrameHeader(const uint8_t* src, size_t n, bool verify, size_t maxContent, FrameHeader* h) {
  if (n < 7) return kTruncated;
  if (rd32(src) != 0x184d2204u) return kBadHeader;
  const uint8_t flg = src[4], bd = src[5];
  if ((flg >> 6) != 1 || (flg & 0x03) || (bd & 0x8f)) return kBadHeader;
  h->flg = flg;
  h->blockMax = kBlockMax[(bd >> 4) & 7];
  if (h->blockMax == 0) return kBadHeader;
  size_t p = 6;
  h->contentSize = -1;
  if (flg & 0x08) {
    if (n < 15) return kTruncated;
    const uint64_t cs = uint64_t(rd32(src + p)) | (uint64_t(rd32(src + p + 4)) << 32);
    if (cs >= (uint64_t(1) << 53)) return kBadHeader;
    h->contentSize = int64_t(cs);
    if (cs > maxContent) return kOutputFull;
    p += 8;
  }
  if (verify && src[p] != ((xxh32(src + 4, p - 4, 0) >> 8) & 0xff)) return kChecksum;
  h->dataStart = p + 1;
  return kOk;
}

// Full frame decode into out (capacity outCap). Returns the output length or a negative Err.
int64_t DecodeFrame(const uint8_t* src, size_t n, uint8_t* out, size_t outCap, bool verify) {
  size_t base = 0;
  while (n - base >= 8 && (rd32(src + base) & 0xfffffff0u) == 0x184d2a50u) {
    const size_t skip = rd32(src + base + 4);
    if (skip > n - base - 8) return kTruncated;
    base += 8 + skip;
  }
  src += base;
  n -= base;
  FrameHeader h;
  const int32_t err = ReadFrameHeader(src, n, verify, outCap, &h);
  if (err != kOk) return err;
  const uint8_t flg = h.flg;
  const size_t blockMax = h.blockMax;
  const int64_t contentSize = h.contentSize;
  size_t p = h.dataStart;
  const bool independent = flg & 0x20;
  const size_t csum = (flg & 0x10) ? 4 : 0;
  size_t op = 0;
  for (;;) {
    if (n - p < 4) return kTruncated;
    const uint32_t word = rd32(src + p);
    p += 4;
    if (word == 0) break;
    const size_t size = word & 0x7fffffffu;
    if (size > blockMax) return kBadBlock;
    if (size + csum > n - p) return kTruncated;
    if (csum && verify && rd32(src + p + size) != xxh32(src + p, size, 0)) return kChecksum;
    if (word & 0x80000000u) {
      if (size > outCap - op) return kOutputFull;
      std::memcpy(out + op, src + p, size);
      op += size;
    } else {
      const size_t limit = outCap - op < blockMax ? outCap : op + blockMax;
      const int64_t r = DecodeBlockFast(src, p, p + size, out, op, limit, independent ? op : 0);
      if (r < 0) return r;
      op = size_t(r);
    }
    p += size + csum;
  }
  if (flg & 0x04) {
    if (n - p < 4) return kTruncated;
    if (verify && rd32(src + p) != xxh32(out, op, 0)) return kChecksum;
  }
  if (contentSize >= 0 && uint64_t(contentSize) != op) return kBadBlock;
  return int64_t(op);
}

// ------------------------------------------------------------------------------------------ LZ4 encode

constexpr int kHashLog = 16;
constexpr size_t kMinMatch = 4, kMfLimit = 12, kLastLiterals = 5, kMaxDistance = 65535;
constexpr int kHighDepth = 32;

// Table entries hold position + base; a fresh base per frame makes older entries negative (rejected), so the
// table is cleared only when the base would overflow int32 (same scheme as lz4.ts).
struct Encoder {
  std::vector<int32_t> table = std::vector<int32_t>(size_t(1) << kHashLog, 0);
  std::vector<uint16_t> chain = std::vector<uint16_t>(size_t(1) << 16);
  int64_t base = 1;
  int64_t nextBase = 1;
};

inline uint32_t HashAt(const uint8_t* s) { return (rd32(s) * 0x9e3779b1u) >> (32 - kHashLog); }

// Mirrors Lz4Encoder.compressBlock in lz4.ts exactly (same hash, same candidates, same size budget).
int64_t CompressBlock(Encoder& enc, const uint8_t* src, int64_t start, int64_t end, int64_t window, uint8_t* out,
                      int64_t op0, int64_t oLimit, bool high) {
  int32_t* table = enc.table.data();
  uint16_t* chain = enc.chain.data();
  const int64_t base = enc.base;
  int64_t op = op0, anchor = start, ip = start, misses = 0;
  const int64_t mfLimit = end - int64_t(kMfLimit);
  const int64_t matchLimit = end - int64_t(kLastLiterals);
  while (ip < mfLimit) {
    const uint32_t h = HashAt(src + ip);
    int64_t ref = int64_t(table[h]) - base;
    table[h] = int32_t(ip + base);
    int64_t bestLen = 0, bestRef = -1;
    if (high) {
      chain[ip & 0xffff] = (ref >= 0 && ip - ref <= int64_t(kMaxDistance)) ? uint16_t(ip - ref) : 0;
      int depth = kHighDepth;
      while (ref >= window && ip - ref <= int64_t(kMaxDistance) && depth-- > 0) {
        if (rd32(src + ref) == rd32(src + ip)) {
          int64_t len = kMinMatch;
          while (ip + len < matchLimit && src[ref + len] == src[ip + len]) len++;
          if (len > bestLen) {
            bestLen = len;
            bestRef = ref;
          }
        }
        const uint16_t d = chain[ref & 0xffff];
        if (d == 0) break;
        ref -= d;
      }
    } else if (ref >= window && ip - ref <= int64_t(kMaxDistance) && rd32(src + ref) == rd32(src + ip)) {
      int64_t len = kMinMatch;
      while (ip + len < matchLimit && src[ref + len] == src[ip + len]) len++;
      bestLen = len;
      bestRef = ref;
    }
    if (bestLen == 0) {
      ip += high ? 1 : 1 + (misses++ >> 6);
      continue;
    }
    const int64_t lit = ip - anchor;
    const int64_t need = 1 + lit + (lit + 240) / 255 + 2 + (bestLen + 240) / 255;
    if (op + need > oLimit - int64_t(kLastLiterals)) return -1;
    const int64_t tokenAt = op++;
    uint32_t token;
    if (lit >= 15) {
      token = 0xf0;
      int64_t r = lit - 15;
      for (; r >= 255; r -= 255) out[op++] = 255;
      out[op++] = uint8_t(r);
    } else {
      token = uint32_t(lit) << 4;
    }
    std::memcpy(out + op, src + anchor, size_t(lit));
    op += lit;
    const int64_t off = ip - bestRef;
    out[op++] = uint8_t(off & 0xff);
    out[op++] = uint8_t(off >> 8);
    const int64_t ml = bestLen - int64_t(kMinMatch);
    if (ml >= 15) {
      token |= 15;
      int64_t r = ml - 15;
      for (; r >= 255; r -= 255) out[op++] = 255;
      out[op++] = uint8_t(r);
    } else {
      token |= uint32_t(ml);
    }
    out[tokenAt] = uint8_t(token);
    const int64_t next = ip + bestLen;
    if (high) {
      for (int64_t q = ip + 1; q < next && q < mfLimit; q++) {
        const uint32_t hq = HashAt(src + q);
        const int64_t r = int64_t(table[hq]) - base;
        chain[q & 0xffff] = (r >= 0 && q - r <= int64_t(kMaxDistance)) ? uint16_t(q - r) : 0;
        table[hq] = int32_t(q + base);
      }
    }
    ip = next;
    anchor = ip;
    misses = 0;
  }
  const int64_t lit = end - anchor;
  const int64_t need = 1 + lit + (lit + 240) / 255;
  if (op + need >= oLimit) return -1;
  if (lit >= 15) {
    out[op++] = 0xf0;
    int64_t r = lit - 15;
    for (; r >= 255; r -= 255) out[op++] = 255;
    out[op++] = uint8_t(r);
  } else {
    out[op++] = uint8_t(lit << 4);
  }
  std::memcpy(out + op, src + anchor, size_t(lit));
  op += lit;
  return op - op0;
}

size_t EncodeBound(size_t n, size_t bms) {
  size_t blocks = (n + bms - 1) / bms;
  if (blocks == 0) blocks = 1;
  return 19 + n + blocks * 8 + 8;
}

// flags: 1 high, 2 linked, 4 content size, 8 block checksum, 16 content checksum.
int64_t EncodeFrame(Encoder& enc, const uint8_t* src, size_t n, uint8_t* out, size_t outCap, uint32_t flags,
                    uint32_t code) {
  if (code < 4 || code > 7) return kBadArgs;
  const size_t bms = kBlockMax[code];
  if (outCap < EncodeBound(n, bms)) return kOutputFull;
  const bool high = flags & 1, linked = flags & 2;
  wr32(out, 0x184d2204u);
  out[4] = uint8_t(0x40 | (linked ? 0 : 0x20) | ((flags & 8) ? 0x10 : 0) | ((flags & 4) ? 0x08 : 0) |
                   ((flags & 16) ? 0x04 : 0));
  out[5] = uint8_t(code << 4);
  size_t p = 6;
  if (flags & 4) {
    wr32(out + p, uint32_t(uint64_t(n)));
    wr32(out + p + 4, uint32_t(uint64_t(n) >> 32));
    p += 8;
  }
  out[p] = uint8_t((xxh32(out + 4, p - 4, 0) >> 8) & 0xff);
  p += 1;
  if (enc.nextBase + int64_t(n) + 1 > 0x7fffffff) {
    std::fill(enc.table.begin(), enc.table.end(), 0);
    enc.nextBase = 1;
  }
  enc.base = enc.nextBase;
  enc.nextBase = enc.base + int64_t(n) + 1;
  for (size_t start = 0; start < n; start += bms) {
    const size_t end = start + bms < n ? start + bms : n;
    const size_t bodyAt = p + 4;
    const int64_t clen = CompressBlock(enc, src, int64_t(start), int64_t(end), linked ? 0 : int64_t(start), out,
                                       int64_t(bodyAt), int64_t(bodyAt + (end - start)), high);
    size_t size;
    if (clen < 0) {
      size = end - start;
      std::memcpy(out + bodyAt, src + start, size);
      wr32(out + p, uint32_t(size) | 0x80000000u);
    } else {
      size = size_t(clen);
      wr32(out + p, uint32_t(size));
    }
    p = bodyAt + size;
    if (flags & 8) {
      wr32(out + p, xxh32(out + bodyAt, size, 0));
      p += 4;
    }
  }
  wr32(out + p, 0);
  p += 4;
  if (flags & 16) {
    wr32(out + p, xxh32(src, n, 0));
    p += 4;
  }
  return int64_t(p);
}

// ------------------------------------------------------------------------------------------ N-API glue

bool GetBytes(const Napi::Value& v, uint8_t** data, size_t* len) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  *data = a.Data();
  *len = a.ByteLength();
  return true;
}

// lz4FrameDecode(src: Uint8Array, out: Uint8Array, verify: boolean): number (length, or negative error code)
Napi::Value Lz4FrameDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *src, *out;
  size_t n, cap;
  if (info.Length() < 2 || !GetBytes(info[0], &src, &n) || !GetBytes(info[1], &out, &cap))
    return Napi::Number::New(env, kBadArgs);
  const bool verify = info.Length() < 3 || !info[2].IsBoolean() || info[2].As<Napi::Boolean>().Value();
  return Napi::Number::New(env, double(DecodeFrame(src, n, out, cap, verify)));
}

Encoder* g_encoder = nullptr;  // one per process: N-API calls run on the JS thread

// lz4FrameEncode(src: Uint8Array, out: Uint8Array, flags: number, blockCode: number): number
Napi::Value Lz4FrameEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *src, *out;
  size_t n, cap;
  if (info.Length() < 4 || !GetBytes(info[0], &src, &n) || !GetBytes(info[1], &out, &cap) || !info[2].IsNumber() ||
      !info[3].IsNumber())
    return Napi::Number::New(env, kBadArgs);
  if (g_encoder == nullptr) g_encoder = new Encoder();
  const uint32_t flags = info[2].As<Napi::Number>().Uint32Value();
  const uint32_t code = info[3].As<Napi::Number>().Uint32Value();
  return Napi::Number::New(env, double(EncodeFrame(*g_encoder, src, n, out, cap, flags, code)));
}

// dv::Event {int64 timestamp; int16 x, y; uint8 polarity; 3 padding bytes} → columns, one event at a time.
void UnpackScalar(const uint8_t* e, size_t count, uint16_t* x, uint16_t* y, double* t, uint8_t* p) {
  for (size_t i = 0; i < count; i++, e += 16) {
    int64_t ts;
    std::memcpy(&ts, e, 8);  // little-endian hosts only (all Node targets)
    int16_t xi, yi;
    std::memcpy(&xi, e + 8, 2);
    std::memcpy(&yi, e + 10, 2);
    t[i] = double(ts);
    x[i] = uint16_t(xi);
    y[i] = uint16_t(yi);
    p[i] = e[12] != 0 ? 1 : 0;
  }
}

// The same for a block whose timestamps all lie in [0, 2^52) (every real recording): int64 → double is then exact
// as "OR the bits into the mantissa of 2^52, subtract 2^52", which vectorizes (a plain int64 → double conversion
// does not below AVX-512). Returns false, writing nothing, when a timestamp is outside that range.
EVENTS_INLINE bool UnpackCleanBody(const uint8_t* e, size_t m, uint16_t* __restrict X, uint16_t* __restrict Y,
                                   double* __restrict T, uint8_t* __restrict P) {
  uint64_t high = 0;
  for (size_t j = 0; j < m; j++) {
    uint64_t u;
    std::memcpy(&u, e + 16 * j, 8);
    high |= u;
  }
  if (high >> 52) return false;
  for (size_t j = 0; j < m; j++) {
    uint64_t u;
    std::memcpy(&u, e + 16 * j, 8);
    u |= 0x4330000000000000ull;  // the double 2^52 + u
    double d;
    std::memcpy(&d, &u, 8);
    T[j] = d - 4503599627370496.0;
    uint32_t xy;
    std::memcpy(&xy, e + 16 * j + 8, 4);
    X[j] = uint16_t(xy);
    Y[j] = uint16_t(xy >> 16);
    P[j] = e[16 * j + 12] != 0 ? 1 : 0;
  }
  return true;
}

constexpr size_t kUnpackBlock = 256;  // events per range check (4 KiB of structs: stays in L1 for the second pass)

EVENTS_NOINLINE bool UnpackCleanSse2(const uint8_t* e, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P) {
  return UnpackCleanBody(e, m, X, Y, T, P);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) EVENTS_NOINLINE bool UnpackCleanAvx2(const uint8_t* e, size_t m, uint16_t* X,
                                                                     uint16_t* Y, double* T, uint8_t* P) {
  return UnpackCleanBody(e, m, X, Y, T, P);
}
const bool kUnpackAvx2 = __builtin_cpu_supports("avx2");
inline bool UnpackClean(const uint8_t* e, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P) {
  return kUnpackAvx2 ? UnpackCleanAvx2(e, m, X, Y, T, P) : UnpackCleanSse2(e, m, X, Y, T, P);
}
#else
inline bool UnpackClean(const uint8_t* e, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P) {
  return UnpackCleanSse2(e, m, X, Y, T, P);
}
#endif

// `count` dv::Event structs from e into the columns: the vectorised path per 256-event block, the scalar one for a
// block it refuses.
void UnpackBlocks(const uint8_t* e, size_t count, uint16_t* x, uint16_t* y, double* t, uint8_t* p) {
  for (size_t i = 0; i < count; i += kUnpackBlock) {
    const size_t m = std::min(kUnpackBlock, count - i);
    if (!UnpackClean(e + 16 * i, m, x + i, y + i, t + i, p + i)) UnpackScalar(e + 16 * i, m, x + i, y + i, t + i, p + i);
  }
}

// unpackEvents(body: Uint8Array, start: number, count: number, x: Uint16Array, y: Uint16Array,
//              t: Float64Array, p: Uint8Array): number — converts `count` 16-byte dv::Event structs starting at
// body[start] into the struct-of-arrays columns. Returns count, or a negative code when out of bounds.
Napi::Value UnpackEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* body;
  size_t n;
  if (info.Length() < 7 || !GetBytes(info[0], &body, &n) || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsTypedArray() || !info[4].IsTypedArray() || !info[5].IsTypedArray() || !info[6].IsTypedArray())
    return Napi::Number::New(env, kBadArgs);
  const double startD = info[1].As<Napi::Number>().DoubleValue();
  const double countD = info[2].As<Napi::Number>().DoubleValue();
  if (!(startD >= 0) || !(countD >= 0) || startD > double(n) || countD * 16 > double(n) - startD)
    return Napi::Number::New(env, kBadArgs);
  const size_t start = size_t(startD), count = size_t(countD);
  Napi::TypedArray tx = info[3].As<Napi::TypedArray>(), ty = info[4].As<Napi::TypedArray>();
  Napi::TypedArray tt = info[5].As<Napi::TypedArray>(), tp = info[6].As<Napi::TypedArray>();
  if (tx.TypedArrayType() != napi_uint16_array || ty.TypedArrayType() != napi_uint16_array ||
      tt.TypedArrayType() != napi_float64_array || tp.TypedArrayType() != napi_uint8_array)
    return Napi::Number::New(env, kBadArgs);
  if (tx.ElementLength() < count || ty.ElementLength() < count || tt.ElementLength() < count ||
      tp.ElementLength() < count)
    return Napi::Number::New(env, kBadArgs);
  uint16_t* x = tx.As<Napi::Uint16Array>().Data();
  uint16_t* y = ty.As<Napi::Uint16Array>().Data();
  double* t = tt.As<Napi::Float64Array>().Data();
  uint8_t* p = tp.As<Napi::Uint8Array>().Data();
  UnpackBlocks(body + start, count, x, y, t, p);
  return Napi::Number::New(env, double(count));
}

// ------------------------------------------------------------------------------------------ record decoders
//
// Each decoder is the exact twin of a TypeScript loop in core/events/formats/*.ts (the reference, kept and tested
// equal). Running state (timestamp unwrapping, EVT time base, counters) lives in a Float64Array the caller owns, so
// input may be split anywhere and both paths can take turns on one stream. Events are written straight into the
// consumer's packet columns at outOffset, at most maxEvents of them; a decoder stops right before the record that
// would need room it does not have, exactly where the TypeScript loop stops. Return value: events written (≥ 0),
// or kBadArgs when an argument is of the wrong type or an index is out of bounds (the caller then uses TS).

struct Columns {
  uint16_t* x;
  uint16_t* y;
  double* t;
  uint8_t* p;
  size_t room;  // events that may be written (starting at the pointers above)
};

// The decoders copy the column pointers into __restrict locals: a store through the uint8_t polarity column may
// alias anything, so without them the compiler reloads every pointer (and the state) after each event.
#define EVENTS_COLUMNS(c)                  \
  uint16_t* __restrict const ox = (c).x;   \
  uint16_t* __restrict const oy = (c).y;   \
  double* __restrict const ot = (c).t;     \
  uint8_t* __restrict const op_ = (c).p;

template <typename T>
bool GetArray(const Napi::Value& v, napi_typedarray_type type, T** data, size_t* len) {
  // The raw call: one lookup for type, length and data (already adjusted by the view's byte offset).
  bool is = false;
  if (napi_is_typedarray(v.Env(), v, &is) != napi_ok || !is) return false;
  napi_typedarray_type got;
  size_t length;
  void* d;
  if (napi_get_typedarray_info(v.Env(), v, &got, &length, &d, nullptr, nullptr) != napi_ok || got != type)
    return false;
  *data = static_cast<T*>(d);
  *len = length;
  return length == 0 || d != nullptr;
}

// A non-negative integer argument no larger than `max`.
bool GetIndex(const Napi::Value& v, size_t max, size_t* out) {
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > double(max) || d != double(size_t(d))) return false;
  *out = size_t(d);
  return true;
}

// Arguments (…, x, y, t, p, outOffset, maxEvents) starting at info[k].
bool GetColumns(const Napi::CallbackInfo& info, size_t k, Columns* c) {
  if (info.Length() < k + 6) return false;
  size_t nx, ny, nt, np, off, max;
  if (!GetArray(info[k], napi_uint16_array, &c->x, &nx) || !GetArray(info[k + 1], napi_uint16_array, &c->y, &ny) ||
      !GetArray(info[k + 2], napi_float64_array, &c->t, &nt) || !GetArray(info[k + 3], napi_uint8_array, &c->p, &np))
    return false;
  size_t cap = nx;
  if (ny < cap) cap = ny;
  if (nt < cap) cap = nt;
  if (np < cap) cap = np;
  if (!GetIndex(info[k + 4], cap, &off) || !GetIndex(info[k + 5], ~size_t(0) >> 12, &max)) return false;
  if (max > cap - off) max = cap - off;
  c->x += off;
  c->y += off;
  c->t += off;
  c->p += off;
  c->room = max;
  return true;
}

// (bytes: Uint8Array, pos, end, state: Float64Array(≥ want)) → pointers; pos ≤ end ≤ bytes.length.
bool GetInput(const Napi::CallbackInfo& info, const uint8_t** bytes, size_t* pos, size_t* end, double** state,
              size_t want) {
  uint8_t* b;
  size_t n, ns;
  if (info.Length() < 4 || !GetArray(info[0], napi_uint8_array, &b, &n) || !GetIndex(info[2], n, end) ||
      !GetIndex(info[1], *end, pos) || !GetArray(info[3], napi_float64_array, state, &ns) || ns < want)
    return false;
  *bytes = b;
  return true;
}

inline int32_t be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // one load + bswap (little-endian hosts; see le32)
  return int32_t(Bswap32(v));
}
inline uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian hosts only (all Node targets); the TS path handles the rest
  return v;
}

constexpr double kTwo32 = 4294967296.0;

// ------------------------------------------------------------------------------------------ clean blocks
//
// The record loops below compact (skip special / invalid / out-of-range records) and unwrap timestamps, which
// keeps them scalar. Most blocks of real data need neither: no record is skipped and no timestamp falls. For such
// a "clean" block the decode is a plain map that the compiler vectorizes (AVX2 where the CPU has it: x86-64
// builds are baseline SSE2, so an AVX2 clone is selected at run time). A block that is not clean is decoded by the
// scalar loop instead, so the result is the same record for record either way (tests hold native == TypeScript).
//
// Each *Clean function checks block r[0, m records) and, only when it is clean, writes its m events and returns
// true; otherwise it writes nothing and returns false.

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EVENTS_AVX2 __attribute__((target("avx2")))
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#else
#define EVENTS_AVX2
const bool kHasAvx2 = false;
#endif

constexpr size_t kCleanBlock = 256;  // records per clean-block check (2 KiB of input: stays in L1)

// DVS128 8-byte records: clean = no special event (bit 15 or 31) and no timestamp below its predecessor.
EVENTS_INLINE bool Dvs128CleanBody(const uint8_t* r, size_t m, uint16_t* __restrict X, uint16_t* __restrict Y,
                            double* __restrict T, uint8_t* __restrict P, int64_t* pv, double off) {
  uint32_t special = 0, falls = 0;
  int32_t prev = int32_t(*pv);
  for (size_t j = 0; j < m; j++) {
    const int32_t a = be32(r + 8 * j), ts = be32(r + 8 * j + 4);
    special |= uint32_t(a);
    falls |= uint32_t(ts < prev);
    prev = ts;
  }
  if (((special & 0x80008000u) | falls) != 0) return false;
  for (size_t j = 0; j < m; j++) {
    const uint32_t a = uint32_t(be32(r + 8 * j));
    X[j] = uint16_t(127 - ((a >> 1) & 0x7f));
    Y[j] = uint16_t(127 - ((a >> 8) & 0x7f));
    P[j] = uint8_t((a & 1) ^ 1);
    T[j] = double(be32(r + 8 * j + 4)) + off;
  }
  *pv = prev;
  return true;
}

// DAT CD records: clean = every event inside wi × hi and no timestamp below its predecessor (u32 compare).
EVENTS_INLINE bool DatCleanBody(const uint8_t* r, size_t m, uint16_t* __restrict X, uint16_t* __restrict Y,
                         double* __restrict T, uint8_t* __restrict P, uint32_t wi, uint32_t hi, uint32_t* prevTs,
                         double off) {
  if (m == 0) return true;
  // Each timestamp is compared with the previous RECORD's, read again: with a carried `prev` (unsigned compare)
  // GCC kept this check scalar; the independent form vectorizes (DAT ~1.1-1.3x in CPU time).
  uint32_t bad = uint32_t(le32(r) < *prevTs);
  for (size_t j = 0; j < m; j++) {
    const uint32_t d = le32(r + 8 * j + 4);
    bad |= uint32_t((d & 0x3fff) >= wi) | uint32_t(((d >> 14) & 0x3fff) >= hi);
  }
  for (size_t j = 1; j < m; j++) bad |= uint32_t(le32(r + 8 * j) < le32(r + 8 * j - 8));
  if (bad != 0) return false;
  const uint32_t prev = le32(r + 8 * m - 8);
  for (size_t j = 0; j < m; j++) {
    const uint32_t d = le32(r + 8 * j + 4);
    X[j] = uint16_t(d & 0x3fff);
    Y[j] = uint16_t((d >> 14) & 0x3fff);
    P[j] = uint8_t((d >> 28) & 1);
    T[j] = double(le32(r + 8 * j)) + off;
  }
  *prevTs = prev;
  return true;
}

// AEDAT 3.1 polarity events: clean = every event valid and inside wi × hi.
EVENTS_INLINE bool Aedat3CleanBody(const uint8_t* r, size_t m, uint16_t* __restrict X, uint16_t* __restrict Y,
                            double* __restrict T, uint8_t* __restrict P, uint32_t wi, uint32_t hi, uint32_t h1,
                            uint32_t flipMask, double base) {
  uint32_t ok = 1;
  for (size_t j = 0; j < m; j++) {
    const uint32_t d = le32(r + 8 * j);
    ok &= d & uint32_t((d >> 17) < wi) & uint32_t(((d >> 2) & 0x7fff) < hi);
  }
  if (ok == 0) return false;
  for (size_t j = 0; j < m; j++) {
    const uint32_t d = le32(r + 8 * j);
    const uint32_t y = (d >> 2) & 0x7fff;
    X[j] = uint16_t(d >> 17);
    Y[j] = uint16_t(((h1 - y) & flipMask) | (y & ~flipMask));
    P[j] = uint8_t((d >> 1) & 1);
    T[j] = base + double(le32(r + 8 * j + 4) & 0x7fffffffu);
  }
  return true;
}

// EVT 2.0 words: clean = every word a CD event (type 0 or 1) inside W × H (no TIME_HIGH: one time base).
EVENTS_INLINE bool Evt2CleanBody(const uint32_t* r, size_t m, uint16_t* __restrict X, uint16_t* __restrict Y,
                          double* __restrict T, uint8_t* __restrict P, uint32_t W, uint32_t H, double base) {
  uint32_t bad = 0;
  for (size_t j = 0; j < m; j++) {
    const uint32_t v = r[j];
    bad |= uint32_t((v >> 28) >= 2) | uint32_t(((v >> 11) & 0x7ff) >= W) | uint32_t((v & 0x7ff) >= H);
  }
  if (bad != 0) return false;
  for (size_t j = 0; j < m; j++) {
    const uint32_t v = r[j];
    X[j] = uint16_t((v >> 11) & 0x7ff);
    Y[j] = uint16_t(v & 0x7ff);
    T[j] = base + double(int32_t((v >> 22) & 63));
    P[j] = uint8_t(v >> 28);
  }
  return true;
}

// Words per EVT 2.0 clean-block check: short, because TIME_HIGH words (one per 64 µs) end a clean run.
constexpr size_t kEvt2Block = 32;

#define EVENTS_CLEAN_DISPATCH(Name, Params, Args)         \
  bool Name##Default Params { return Name##Body Args; }   \
  EVENTS_AVX2 bool Name##Avx2 Params { return Name##Body Args; } \
  inline bool Name Params { return kHasAvx2 ? Name##Avx2 Args : Name##Default Args; }

EVENTS_CLEAN_DISPATCH(Dvs128Clean,
                      (const uint8_t* r, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P, int64_t* pv,
                       double off),
                      (r, m, X, Y, T, P, pv, off))
EVENTS_CLEAN_DISPATCH(DatClean,
                      (const uint8_t* r, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P, uint32_t wi,
                       uint32_t hi, uint32_t* prevTs, double off),
                      (r, m, X, Y, T, P, wi, hi, prevTs, off))
EVENTS_CLEAN_DISPATCH(Aedat3Clean,
                      (const uint8_t* r, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P, uint32_t wi,
                       uint32_t hi, uint32_t h1, uint32_t flipMask, double base),
                      (r, m, X, Y, T, P, wi, hi, h1, flipMask, base))

EVENTS_CLEAN_DISPATCH(Evt2Clean,
                      (const uint32_t* r, size_t m, uint16_t* X, uint16_t* Y, double* T, uint8_t* P, uint32_t W,
                       uint32_t H, double base),
                      (r, m, X, Y, T, P, W, H, base))

// Records in the next block: at most kCleanBlock, the records left, and the room left (each record gives at most
// one event, so a block never overfills the packet).
inline size_t BlockRecords(size_t pos, size_t end, size_t rec, size_t k, size_t room) {
  size_t m = (end - pos) / rec;
  if (m > kCleanBlock) m = kCleanBlock;
  if (m > room - k) m = room - k;
  return m;
}

// AEDAT 1.0/2.0 (aedat2.ts dvs128Block8 / dvs128Block6 / davisBlock + blockKernel).
// state: [0] prev ts, [1] unwrap offset, [2] first (1 = seed prev from the first record), [3] out-of-range count
// (added to), [4] width − 1, [5] height − 1, [6] byte position reached (out). mode: 0 DVS128 8-byte, 1 DVS128
// 6-byte, 2 DAVIS 8-byte.
Napi::Value Aedat2Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* b;
  size_t pos, end, mode;
  double* s;
  Columns c;
  if (!GetInput(info, &b, &pos, &end, &s, 7) || !GetIndex(info[4], 2, &mode) || !GetColumns(info, 5, &c))
    return Napi::Number::New(env, kBadArgs);
  const size_t rec = mode == 1 ? 6 : 8;
  const size_t tsAt = rec - 4;
  if (s[2] != 0 && pos + rec <= end) {
    s[0] = double(be32(b + pos + tsAt));
    s[2] = 0;
  }
  int64_t pv = int64_t(s[0]);
  double off = s[1];
  size_t k = 0, bad = 0;
  const size_t room = c.room;
  EVENTS_COLUMNS(c)
  if (mode == 2) {
    const uint32_t w1 = uint32_t(s[4]), h1 = uint32_t(s[5]);
    for (; pos + rec <= end && k < room; pos += rec) {
      const int32_t a = be32(b + pos);
      const int64_t ts = be32(b + pos + 4);
      if (ts < pv && pv - ts > 2147483648LL) off += kTwo32;
      pv = ts;
      if (a < 0 || (a & 0x400) != 0) continue;
      const uint32_t rx = (uint32_t(a) >> 12) & 0x3ff, ry = (uint32_t(a) >> 22) & 0x1ff;
      if (rx > w1 || ry > h1) {
        bad++;
        continue;
      }
      ox[k] = uint16_t(w1 - rx);
      oy[k] = uint16_t(h1 - ry);
      op_[k] = uint8_t((uint32_t(a) >> 11) & 1);
      ot[k] = double(ts) + off;
      k++;
    }
  } else {
    // Clean blocks (8-byte records) are mapped in one pass; other blocks go through the scalar loop, whose
    // branch-free compaction writes every record at k (k < room holds) and advances k only for pixel events.
    while (pos + rec <= end && k < room) {
      const size_t m = BlockRecords(pos, end, rec, k, room);
      if (rec == 8 && Dvs128Clean(b + pos, m, ox + k, oy + k, ot + k, op_ + k, &pv, off)) {
        pos += 8 * m;
        k += m;
        continue;
      }
      const size_t stop = pos + rec * m;
    for (; pos < stop; pos += rec) {
      uint32_t a;
      int64_t ts;
      if (rec == 8) {
        a = uint32_t(be32(b + pos));
        ts = be32(b + pos + 4);
      } else {
        a = (uint32_t(b[pos]) << 8) | b[pos + 1];
        ts = be32(b + pos + 2);
      }
      if (EVENTS_UNLIKELY(ts < pv) && pv - ts > 2147483648LL) off += kTwo32;
      pv = ts;
      ox[k] = uint16_t(127 - ((a >> 1) & 0x7f));
      oy[k] = uint16_t(127 - ((a >> 8) & 0x7f));
      op_[k] = uint8_t((a & 1) ^ 1);
      ot[k] = double(ts) + off;
      k += (a & 0x80008000u) == 0;
    }
    }
  }
  s[0] = double(pv);
  s[1] = off;
  s[3] += double(bad);
  s[6] = double(pos);
  return Napi::Number::New(env, double(k));
}

// For integers 0 ≤ v < 2^16: v < IntBound(b) exactly when !(v >= b) in double (b may be NaN, ±Infinity, fractional).
inline uint32_t IntBound(double b) {
  if (std::isnan(b) || b >= 65536) return 65536;
  if (b <= 0) return 0;
  return uint32_t(std::ceil(b));
}

// Prophesee DAT CD/2D records (dat.ts cdBlock). state: [0] prev ts (−1 at start), [1] unwrap offset, [2] width,
// [3] height (may be Infinity), [4] dropped count (added to), [5] byte position reached (out).
Napi::Value DatDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* b;
  size_t pos, end;
  double* s;
  Columns c;
  if (!GetInput(info, &b, &pos, &end, &s, 6) || !GetColumns(info, 4, &c)) return Napi::Number::New(env, kBadArgs);
  double pv = s[0], off = s[1];
  const double w = s[2], h = s[3];
  size_t k = 0, bad = 0;
  const size_t room = c.room;
  EVENTS_COLUMNS(c)
  const uint32_t wi = IntBound(w), hi = IntBound(h);
  while (pos + 8 <= end && k < room) {
    const size_t m = BlockRecords(pos, end, 8, k, room);
    // Clean blocks need pv ≥ 0 (a real previous timestamp) for the u32 "never falls" test.
    uint32_t prevTs = pv >= 0 ? uint32_t(pv) : 0;
    if (DatClean(b + pos, m, ox + k, oy + k, ot + k, op_ + k, wi, hi, &prevTs, off)) {
      pv = double(prevTs);
      pos += 8 * m;
      k += m;
      continue;
    }
    const size_t stop = pos + 8 * m;
  // Branch-free compaction (see Aedat2Decode).
  for (; pos < stop; pos += 8) {
    const double ts = double(le32(b + pos));
    const uint32_t d = le32(b + pos + 4);
    if (EVENTS_UNLIKELY(ts < pv) && pv - ts > 2147483648.0) off += kTwo32;
    pv = ts;
    const uint32_t x = d & 0x3fff, y = (d >> 14) & 0x3fff;
    const uint32_t inside = uint32_t(x < wi) & uint32_t(y < hi);
    bad += inside ^ 1;
    ox[k] = uint16_t(x);
    oy[k] = uint16_t(y);
    op_[k] = uint8_t((d >> 28) & 1);
    ot[k] = ts + off;
    k += inside;
  }
  }
  s[0] = pv;
  s[1] = off;
  s[4] += double(bad);
  s[5] = double(pos);
  return Napi::Number::New(env, double(k));
}

// AEDAT 3.1 polarity event payloads (aedat3.ts polarityBlock). state: [0] time base (tsOverflow · 2^31),
// [1] height − 1 for the 3.0 y flip or −1, [2] width, [3] height (may be Infinity), [4] out-of-range count (added
// to), [5] byte position reached (out).
Napi::Value Aedat3Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* b;
  size_t pos, end;
  double* s;
  Columns c;
  if (!GetInput(info, &b, &pos, &end, &s, 6) || !GetColumns(info, 4, &c)) return Napi::Number::New(env, kBadArgs);
  const double base = s[0], w = s[2], h = s[3];
  const bool flip = s[1] >= 0;
  const uint32_t h1 = flip ? uint32_t(s[1]) : 0;
  size_t k = 0, bad = 0;
  const size_t room = c.room;
  EVENTS_COLUMNS(c)
  // Integer bounds with the same outcome as `x >= w` in double for x, y < 2^15 (w may be Infinity or odd).
  const uint32_t wi = IntBound(w), hi = IntBound(h);
  const uint32_t flipMask = flip ? ~0u : 0u;
  while (pos + 8 <= end && k < room) {
    const size_t m = BlockRecords(pos, end, 8, k, room);
    if (Aedat3Clean(b + pos, m, ox + k, oy + k, ot + k, op_ + k, wi, hi, h1, flipMask, base)) {
      pos += 8 * m;
      k += m;
      continue;
    }
    const size_t stop = pos + 8 * m;
  // Branch-free compaction (see Aedat2Decode): invalid or out-of-range events are written at k, then overwritten.
  for (; pos < stop; pos += 8) {
    const uint32_t d = le32(b + pos);
    const uint32_t valid = d & 1;
    const uint32_t x = d >> 17;
    const uint32_t y = (d >> 2) & 0x7fff;
    const uint32_t inside = uint32_t(x < wi) & uint32_t(y < hi);
    bad += valid & (inside ^ 1);
    ox[k] = uint16_t(x);
    oy[k] = uint16_t(((h1 - y) & flipMask) | (y & ~flipMask));
    op_[k] = uint8_t((d >> 1) & 1);
    ot[k] = base + double(le32(b + pos + 4) & 0x7fffffffu);
    k += valid & inside;
  }
  }
  s[4] += double(bad);
  s[5] = double(pos);
  return Napi::Number::New(env, double(k));
}

// Counters shared by the EVT decoders' state arrays (prophesee-raw.ts RawCounters), at state[kCounters + i].
enum RawCounter { kBeforeTimeHigh = 0, kInvalid = 1, kTriggers = 2, kLoops = 3, kOther = 4 };

// (words: Uint32Array | Uint16Array, i, end, state: Float64Array(≥ want)) with i ≤ end ≤ words.length.
template <typename W>
bool GetWords(const Napi::CallbackInfo& info, napi_typedarray_type type, const W** words, size_t* i, size_t* end,
              double** state, size_t want) {
  W* w;
  size_t n, ns;
  if (info.Length() < 4 || !GetArray(info[0], type, &w, &n) || !GetIndex(info[2], n, end) ||
      !GetIndex(info[1], *end, i) || !GetArray(info[3], napi_float64_array, state, &ns) || ns < want)
    return false;
  *words = w;
  return true;
}

constexpr double kTwo34 = 17179869184.0;

// EVT 2.0 (evt2.ts Evt2Decoder.decode, without an onTrigger callback). state: [0] have TIME_HIGH, [1] last TIME_HIGH,
// [2] loops, [3] base µs, [4] shift, [5] timeShift option, [6] width, [7] height, [8..12] counters, [13] word index
// reached (out).
Napi::Value Evt2Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t* w;
  size_t i, end;
  double* s;
  Columns c;
  if (!GetWords(info, napi_uint32_array, &w, &i, &end, &s, 14) || !GetColumns(info, 4, &c))
    return Napi::Number::New(env, kBadArgs);
  double* cnt = s + 8;
  size_t k = 0;
  if (s[0] == 0) {
    for (; i < end; i++) {
      const uint32_t type = w[i] >> 28;
      if (type == 8) break;
      if (type < 2) cnt[kBeforeTimeHigh]++;
      else cnt[kOther]++;
    }
    if (i == end) {
      s[13] = double(i);
      return Napi::Number::New(env, 0);
    }
    const double th = double(w[i] & 0x0fffffff);
    s[0] = 1;
    s[4] = s[5] != 0 ? th * 64 : 0;
    s[1] = th;
    s[3] = th * 64 - s[4];
    i++;
  }
  const uint32_t W = uint32_t(s[6]), H = uint32_t(s[7]);
  uint32_t last = uint32_t(s[1]);
  double loops = s[2], base = s[3];
  const double shift = s[4];
  size_t dropInvalid = 0, other = 0, triggers = 0, timeLoops = 0;
  const size_t room = c.room;
  EVENTS_COLUMNS(c)
  // Clean blocks (only CD words inside the sensor) are mapped in one pass; other blocks word by word. A block
  // holds at most room − k words, so it never overfills the packet and stops where the word loop would.
  while (i < end && k < room) {
    size_t m = end - i;
    if (m > kEvt2Block) m = kEvt2Block;
    if (m > room - k) m = room - k;
    if (Evt2Clean(w + i, m, ox + k, oy + k, ot + k, op_ + k, W, H, base)) {
      i += m;
      k += m;
      continue;
    }
    const size_t stop = i + m;
  for (; i < stop; i++) {
    const uint32_t v = w[i];
    const uint32_t type = v >> 28;
    if (type < 2) {
      const uint32_t x = (v >> 11) & 0x7ff, y = v & 0x7ff;
      if (x < W && y < H) {
        ox[k] = uint16_t(x);
        oy[k] = uint16_t(y);
        ot[k] = base + double((v >> 22) & 63);
        op_[k] = uint8_t(type);
        k++;
      } else {
        dropInvalid++;
      }
    } else if (type == 8) {
      const uint32_t th = v & 0x0fffffff;
      if (th < last && last - th > (1u << 27)) {
        loops++;
        timeLoops++;
      }
      last = th;
      base = loops * kTwo34 + double(th) * 64 - shift;
    } else if (type == 0xa) {
      triggers++;
    } else {
      other++;
    }
  }
  }
  s[1] = double(last);
  s[2] = loops;
  s[3] = base;
  cnt[kInvalid] += double(dropInvalid);
  cnt[kOther] += double(other);
  cnt[kTriggers] += double(triggers);
  cnt[kLoops] += double(timeLoops);
  s[13] = double(i);
  return Napi::Number::New(env, double(k));
}

// ------------------------------------------------------------------------------------------ AEDAT 4 LZ4 packets
//
// One call per LZ4-compressed AEDAT 4 event packet: frame decode into a scratch buffer the reader reuses, locate
// the EventPacket's event vector (the FlatBuffers walk of aedat4OpenBody + FbTable.vector in aedat4.ts, check for
// check), unpack the events straight into the packet columns. It saves the reader the per-packet JavaScript of
// those three steps (view and table objects, header parsing, three calls). Any failure returns a negative code
// and the reader re-runs the TypeScript path on the same bytes, which throws the detailed EventFormatError — so
// this function must accept exactly what that path accepts, and it does not need to say why it refuses.

constexpr int32_t kNeedScratch = -7;   // the scratch is smaller than the frame's bound: state[2] = bytes needed
constexpr int32_t kBadFlatBuf = -8;    // decompressed body is not a sound EVTS FlatBuffer
constexpr int32_t kUnsupported = -9;   // skippable frame first: the generic path handles it

// Upper bound of the decompressed size, exactly as lz4FrameBound (lz4.ts) computes it after lz4ReadFrameHeader,
// with the same refusals (any refusal here is a refusal there). Returns the bound or a negative Err.
int64_t Lz4Bound(const uint8_t* src, size_t n, size_t maxOutput, bool verify) {
  FrameHeader h;
  // No content-size limit here: lz4FrameBound checks it after the header checksum (below).
  const int32_t err = ReadFrameHeader(src, n, verify, ~size_t(0), &h);
  if (err != kOk) return err;
  const uint8_t flg = h.flg;
  const size_t blockMax = h.blockMax;
  const int64_t contentSize = h.contentSize;
  size_t p = h.dataStart;
  if (contentSize >= 0) return uint64_t(contentSize) > maxOutput ? int64_t(kOutputFull) : contentSize;
  const size_t csum = (flg & 0x10) ? 4 : 0;
  size_t bound = 0;
  for (;;) {
    if (p > n || n - p < 4) return kTruncated;
    const uint32_t word = rd32(src + p);
    if (word == 0) break;
    const size_t size = word & 0x7fffffffu;
    if (size > blockMax) return kBadBlock;
    if (size + csum > n - p - 4) return kTruncated;
    bound += (word & 0x80000000u) ? size : std::min(blockMax, size * 255 + 16);
    if (bound >= maxOutput) return int64_t(maxOutput);
    p += 4 + size + csum;
  }
  return int64_t(bound);
}

// The event vector of a size-prefixed EVTS FlatBuffer body[0, len): its byte position in body and element count
// (0 when the field is absent). The checks and their order mirror aedat4OpenBody, FlatBuf.table and
// FbTable.vector(0, 16) in aedat4.ts / aedat4-flatbuf.ts. Returns false where those throw.
bool EventVector(const uint8_t* body, size_t len, size_t* start, size_t* count) {
  *start = 0;
  *count = 0;
  if (len < 12) return false;
  const uint64_t L = rd32(body);
  if (L > len - 4) return false;
  const uint8_t* fb = body + 4;
  if (L < 8 || std::memcmp(fb + 4, "EVTS", 4) != 0) return false;
  const int64_t pos = int64_t(rd32(fb));
  if (pos + 4 > int64_t(L)) return false;
  const int64_t vt = pos - int64_t(int32_t(rd32(fb + pos)));
  if (vt < 0 || vt + 4 > int64_t(L)) return false;
  const uint32_t vtSize = uint32_t(fb[vt]) | (uint32_t(fb[vt + 1]) << 8);
  const uint32_t tableSize = uint32_t(fb[vt + 2]) | (uint32_t(fb[vt + 3]) << 8);
  if (vtSize < 4 || (vtSize & 1) || vt + vtSize > int64_t(L)) return false;
  if (tableSize < 4 || pos + tableSize > int64_t(L)) return false;
  if (vtSize < 6) return true;  // field 0 (elements) beyond the vtable: absent
  const uint32_t off = uint32_t(fb[vt + 4]) | (uint32_t(fb[vt + 5]) << 8);
  if (off == 0) return true;
  if (off < 4 || off + 4 > tableSize) return false;
  const int64_t f = pos + off;
  const int64_t t = f + int64_t(rd32(fb + f));
  if (t + 4 > int64_t(L)) return false;
  const uint64_t n = rd32(fb + t);
  const uint64_t room = uint64_t(int64_t(L) - t - 4);
  if (n > room / 16) return false;
  *start = size_t(4 + t + 4);
  *count = size_t(n);
  return true;
}

// aedat4Lz4Packet(src: Uint8Array, srcStart: number, srcEnd: number, maxOutput: number, scratch: Uint8Array,
//                 state: Float64Array(≥3), x, y, t, p, outOffset, maxEvents): number
// Decodes the LZ4 frame src[srcStart, srcEnd) into scratch (checksums verified where declared), finds the event
// vector and unpacks up to maxEvents events into the columns at outOffset. Returns the number written, with
// state[0] = the packet's event count and state[1] = the vector's byte position in scratch (the caller unpacks
// any rest from there); or a negative code: kNeedScratch (state[2] = bytes the scratch must hold), kUnsupported,
// kBadArgs, or a decode / FlatBuffer refusal (the caller re-runs the TypeScript path for the message).
Napi::Value Aedat4Lz4Packet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *src, *scratch;
  double* state;
  size_t n, start, end, maxOutput, cap, ns;
  Columns c;
  if (info.Length() < 12 || !GetArray(info[0], napi_uint8_array, &src, &n) || !GetIndex(info[2], n, &end) ||
      !GetIndex(info[1], end, &start) || !GetIndex(info[3], size_t(1) << 40, &maxOutput) ||
      !GetArray(info[4], napi_uint8_array, &scratch, &cap) || !GetArray(info[5], napi_float64_array, &state, &ns) ||
      ns < 3 || !GetColumns(info, 6, &c))
    return Napi::Number::New(env, kBadArgs);
  src += start;
  n = end - start;
  if (n >= 4 && (rd32(src) & 0xfffffff0u) == 0x184d2a50u) return Napi::Number::New(env, kUnsupported);
  const int64_t bound = Lz4Bound(src, n, maxOutput, true);
  if (bound < 0) return Napi::Number::New(env, double(bound));
  if (size_t(bound) > cap) {
    state[2] = double(bound);
    return Napi::Number::New(env, kNeedScratch);
  }
  const int64_t len = DecodeFrame(src, n, scratch, size_t(bound), true);
  if (len < 0) return Napi::Number::New(env, double(len));
  size_t vec, count;
  if (!EventVector(scratch, size_t(len), &vec, &count)) return Napi::Number::New(env, kBadFlatBuf);
  const size_t m = std::min(count, c.room);
  UnpackBlocks(scratch + vec, m, c.x, c.y, c.t, c.p);
  state[0] = double(count);
  state[1] = double(vec);
  return Napi::Number::New(env, double(m));
}

#include "evt3_decode.inl"

#include "frame_binning.inl"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("lz4FrameDecode", Napi::Function::New(env, Lz4FrameDecode));
  exports.Set("lz4FrameEncode", Napi::Function::New(env, Lz4FrameEncode));
  exports.Set("unpackEvents", Napi::Function::New(env, UnpackEvents));
  exports.Set("aedat4Lz4Packet", Napi::Function::New(env, Aedat4Lz4Packet));
  exports.Set("aedat2Decode", Napi::Function::New(env, Aedat2Decode));
  exports.Set("datDecode", Napi::Function::New(env, DatDecode));
  exports.Set("aedat3Decode", Napi::Function::New(env, Aedat3Decode));
  exports.Set("evt2Decode", Napi::Function::New(env, Evt2Decode));
  exports.Set("evt3Decode", Napi::Function::New(env, Evt3Decode));
  exports.Set("binByTime", Napi::Function::New(env, BinByTime));
  exports.Set("binWindow", Napi::Function::New(env, BinWindow));
  exports.Set("abi", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace

NODE_API_MODULE(events_native, Init)
