// Float32 array operations of the model and the trainer, exported by the egru_native addon (see egru_model_ops.cc).
#pragma once
#include <napi.h>

/** Adds poolTime, poolTimeBackward, sumValid, adamUpdate and sumSquares to the addon's exports. */
void egruRegisterModelOps(Napi::Env env, Napi::Object exports);
