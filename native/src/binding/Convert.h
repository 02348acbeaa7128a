#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "core/BuildInfo.h"
#include "core/DetectionRecord.h"
#include "ingest/Source.h"
#include "pipeline/Probe.h"

namespace vigil {

// One error format everywhere: "Expected <what> for <field> but received <value>".
Napi::TypeError invalidParameter(Napi::Env env, const std::string& what, const std::string& field,
                                 const Napi::Value& got);
// An operation on a closed or busy object.
Napi::Error invalidState(Napi::Env env, const std::string& message);

// Option readers: a missing key gives `fallback`; a wrong type throws invalidParameter.
std::string optString(const Napi::Object& o, const char* key, const std::string& fallback);
double optNumber(const Napi::Object& o, const char* key, double fallback, double min, double max);
bool optBool(const Napi::Object& o, const char* key, bool fallback);

// Source options shared by Camera and probe: url, transport, timeoutMs, realtime.
SourceOptions readSourceOptions(const Napi::Object& o);

// Sets the fields of one fMP4 piece on `o`: init + mime (when `init` is not empty), data, keyframe, ptsUs.
void setFragment(Napi::Env env, Napi::Object o, const std::vector<uint8_t>& init, const std::string& mime,
                 const std::vector<uint8_t>& data, bool keyframe, int64_t ptsUs);

// A frame seq (an integer ≥ 1) and packed 24-byte detection records as the protocol carries them
// (a Uint8Array, little-endian) into `boxes`: annotate's and paintCheck's arguments.
uint64_t readSeqAndRecords(Napi::Env env, const Napi::Value& seq, const Napi::Value& records,
                           std::vector<DetectionRecord>& boxes);

// DetectionRecord's size and field offsets, for the test that holds the protocol's mirror to it.
Napi::Object detectionRecordLayout(Napi::Env env);

Napi::Object toJs(Napi::Env env, const BuildInfo& b);
Napi::Object toJs(Napi::Env env, const ProbeResult& r);

}  // namespace vigil
