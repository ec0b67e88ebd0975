// SPDX-License-Identifier: Apache-2.0
#include "repo/packindex.h"

#include <algorithm>

#include "base/json.h"

namespace halley::repo {

std::string EncodePackIndex(const PackIndex& p) {
  std::vector<Id> packs = p.packs;
  std::sort(packs.begin(), packs.end());
  packs.erase(std::unique(packs.begin(), packs.end()), packs.end());
  std::string out = "{\"snapshot\":\"" + p.snapshot.Hex() + "\",\"packs\":[";
  for (size_t i = 0; i < packs.size(); ++i) {
    if (i) out.push_back(',');
    out += "\"" + packs[i].Hex() + "\"";
  }
  out += "]}";
  return out;
}

Result<PackIndex> DecodePackIndex(std::string_view json) {
  HALLEY_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  if (!j.is_object()) return Fail(ErrorCode::kCorruption, "packindex is not a JSON object");
  PackIndex p;
  HALLEY_ASSIGN_OR_RETURN(std::string snap, JsonString(j, "snapshot"));
  auto sid = Id::FromHex(snap);
  if (!sid) return Fail(ErrorCode::kCorruption, "packindex: invalid snapshot ID");
  p.snapshot = *sid;
  auto packs = j.find("packs");
  if (packs == j.end() || !packs->is_array()) {
    return Fail(ErrorCode::kCorruption, "packindex: no \"packs\" array");
  }
  for (const auto& v : *packs) {
    if (!v.is_string()) return Fail(ErrorCode::kCorruption, "packindex: pack ID is not a string");
    auto id = Id::FromHex(v.get<std::string>());
    if (!id) return Fail(ErrorCode::kCorruption, "packindex: invalid pack ID");
    p.packs.push_back(*id);
  }
  return p;
}

}  // namespace halley::repo
