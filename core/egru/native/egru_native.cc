// PLACEHOLDER: EGRU kernels — being implemented.
#include <napi.h>
static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(egru_native, Init)
