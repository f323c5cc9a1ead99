// Time reductions of the classifier head, exported by the egru_native addon (see egru_readout.cc).
#pragma once
#include <napi.h>

/** Adds poolTime, poolTimeBackward and sumValid to the addon's exports. */
void egruRegisterReadout(Napi::Env env, Napi::Object exports);
