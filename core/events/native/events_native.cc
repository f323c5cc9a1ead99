// Native fast path for the event codecs: LZ4 frame decode/encode (the same algorithm, byte for byte, as the
// TypeScript reference in core/events/codecs/lz4.ts) and the AEDAT 4 Event-struct → struct-of-arrays unpacking.
//
// Rules: N-API only (node-addon-api, no C++ exceptions). Every read and write is bounds-checked against the
// buffers JavaScript passed in; the code never allocates output. Errors are returned as negative codes; the
// JavaScript wrapper then re-runs the TypeScript decoder on the same bytes to produce the detailed message, so
// both paths report identical errors.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

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

// Decodes one block src[ip, iend) into out[op, oend); matches may not reach below `window`.
int64_t DecodeBlock(const uint8_t* src, size_t ip, size_t iend, uint8_t* out, size_t op, size_t oend, size_t window) {
  if (ip == iend) return kBadBlock;
  for (;;) {
    const uint32_t token = src[ip++];
    size_t lit = token >> 4;
    if (lit == 15) {
      uint32_t b;
      do {
        if (ip >= iend) return kBadBlock;
        b = src[ip++];
        lit += b;
      } while (b == 255);
    }
    if (lit > iend - ip) return kBadBlock;
    if (lit > oend - op) return kOutputFull;
    if (lit <= 16 && iend - ip >= 16 && oend - op >= 16) {
      std::memcpy(out + op, src + ip, 16);  // short run: one fixed-size copy (bytes past lit are rewritten later)
    } else {
      std::memcpy(out + op, src + ip, lit);
    }
    ip += lit;
    op += lit;
    if (ip == iend) return int64_t(op);
    if (iend - ip < 2) return kBadBlock;
    const size_t offset = size_t(src[ip]) | (size_t(src[ip + 1]) << 8);
    ip += 2;
    if (offset == 0 || offset > op - window) return kBadBlock;
    size_t len = token & 15;
    if (len == 15) {
      uint32_t b;
      do {
        if (ip >= iend) return kBadBlock;
        b = src[ip++];
        len += b;
      } while (b == 255);
    }
    len += 4;
    if (len > oend - op) return kOutputFull;
    uint8_t* d = out + op;
    const uint8_t* s = d - offset;
    if (offset >= 16 && len <= 16 && oend - op >= 16) {
      std::memcpy(d, s, 16);
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
    if (ip >= iend) return kBadBlock;
  }
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
  if (n < 7) return kTruncated;
  if (rd32(src) != 0x184d2204u) return kBadHeader;
  const uint8_t flg = src[4], bd = src[5];
  if ((flg >> 6) != 1 || (flg & 0x03) || (bd & 0x8f)) return kBadHeader;
  const size_t blockMax = kBlockMax[(bd >> 4) & 7];
  if (blockMax == 0) return kBadHeader;
  size_t p = 6;
  int64_t contentSize = -1;
  if (flg & 0x08) {
    if (n < 15) return kTruncated;
    const uint64_t cs = uint64_t(rd32(src + p)) | (uint64_t(rd32(src + p + 4)) << 32);
    if (cs >= (uint64_t(1) << 53)) return kBadHeader;
    contentSize = int64_t(cs);
    if (uint64_t(contentSize) > outCap) return kOutputFull;
    p += 8;
  }
  if (verify && src[p] != ((xxh32(src + 4, p - 4, 0) >> 8) & 0xff)) return kChecksum;
  p += 1;
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
      const int64_t r = DecodeBlock(src, p, p + size, out, op, limit, independent ? op : 0);
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
  const uint8_t* e = body + start;
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
  return Napi::Number::New(env, double(count));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("lz4FrameDecode", Napi::Function::New(env, Lz4FrameDecode));
  exports.Set("lz4FrameEncode", Napi::Function::New(env, Lz4FrameEncode));
  exports.Set("unpackEvents", Napi::Function::New(env, UnpackEvents));
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(events_native, Init)
