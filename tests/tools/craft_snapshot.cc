// SPDX-License-Identifier: Apache-2.0
//
// craft_snapshot: writes hand-made objects into a vault through the real Repository API, for
// tests that need snapshots no archiver would produce (hostile names, duplicate entries, links
// that point outside the restore target) or a lock held by someone else.
//
//   BACKUP_TOOL_REPOSITORY=DIR BACKUP_TOOL_PASSWORD=PW craft_snapshot SPEC.json
//
// SPEC (JSON; every member is optional):
//   {
//     "blobs":    {"LABEL": {"text": "file contents"} | {"b64": "base64 contents"}, ...},
//     "trees":    [{"label": "LABEL", "json": "RAW TREE JSON"} | {"label": ..., "b64": ...}, ...],
//     "snapshot": "RAW SNAPSHOT JSON",
//     "locks":    ["RAW LOCK JSON", ...],
//     "indexes":  ["RAW INDEX FILE TEXT", ...]
//   }
// Data blobs are saved first. Trees are saved in the order given, as the exact bytes given
// (so names can be anything the JSON can hold: "..", "", "a/b", "\u0000", duplicates, ...);
// in a tree's text, "@blob:LABEL@" and "@tree:LABEL@" are replaced by the hex ID of an earlier
// blob or tree. Then the repository is flushed (packs, then index) and only then the snapshot
// ("@tree:LABEL@" replaced likewise), the lock files and the index files are written. An index
// file's text need not be valid: it is how a client that wrote bad data (the manual's "Data
// file integrity at generation-time") is simulated.
//
// Output: the snapshot ID (or "-" without one) on the first line, then one JSON line:
// {"snapshot": ID, "trees": {LABEL: ID}, "blobs": {LABEL: ID}, "locks": [ID, ...],
//  "indexes": [ID, ...]}.
// Exit code 0 on success, 1 on any failure (with a message on stderr).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "base/bytes.h"
#include "base/encoding.h"
#include "base/json.h"
#include "crypto/hash.h"
#include "repo/repository.h"
#include "storage/local_blob_store.h"

namespace {

using halley::Bytes;
using halley::Id;
using halley::Json;

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "craft_snapshot: " << message << "\n";
  std::exit(1);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) Die(std::string(name) + " is not set");
  return v;
}

// Replaces "@blob:LABEL@" and "@tree:LABEL@" with the IDs recorded so far.
std::string Substitute(const std::string& text, const std::map<std::string, Id>& blobs,
                       const std::map<std::string, Id>& trees) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t at = text.find('@', i);
    if (at == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    out.append(text, i, at - i);
    const std::map<std::string, Id>* table = nullptr;
    size_t start = 0;
    if (text.compare(at, 6, "@blob:") == 0) {
      table = &blobs;
      start = at + 6;
    } else if (text.compare(at, 6, "@tree:") == 0) {
      table = &trees;
      start = at + 6;
    }
    size_t end = table ? text.find('@', start) : std::string::npos;
    if (table == nullptr || end == std::string::npos) {
      out.push_back('@');
      i = at + 1;
      continue;
    }
    std::string label = text.substr(start, end - start);
    auto it = table->find(label);
    if (it == table->end()) Die("unknown label in placeholder: " + text.substr(at, end - at + 1));
    out += it->second.Hex();
    i = end + 1;
  }
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: craft_snapshot SPEC.json (vault and password from "
                 "BACKUP_TOOL_REPOSITORY and BACKUP_TOOL_PASSWORD)\n";
    return 2;
  }
  Json spec;
  try {
    spec = Json::parse(ReadAll(argv[1]));
  } catch (const std::exception& e) {
    Die(std::string("invalid spec: ") + e.what());
  }

  auto store = halley::storage::LocalBlobStore::Open(Env("BACKUP_TOOL_REPOSITORY"));
  if (!store) Die("open store: " + store.error().Message());
  auto repo = halley::repo::Repository::Open(**store, Env("BACKUP_TOOL_PASSWORD"));
  if (!repo) Die("open vault: " + repo.error().Message());
  if (auto r = (*repo)->LoadIndex(); !r) Die("load index: " + r.error().Message());

  std::map<std::string, Id> blobs, trees;
  halley::OrderedJson out;
  out["snapshot"] = nullptr;
  out["trees"] = halley::OrderedJson::object();
  out["blobs"] = halley::OrderedJson::object();
  out["locks"] = halley::OrderedJson::array();
  out["indexes"] = halley::OrderedJson::array();

  try {
    if (spec.contains("blobs")) {
      for (const auto& [label, b] : spec["blobs"].items()) {
        Bytes data;
        if (b.contains("text")) {
          data = halley::ToBytes(b["text"].get<std::string>());
        } else if (b.contains("b64")) {
          auto d = halley::Base64Decode(b["b64"].get<std::string>());
          if (!d) Die("blob " + label + ": " + d.error().Message());
          data = std::move(*d);
        } else {
          Die("blob " + label + " needs \"text\" or \"b64\"");
        }
        Id id = halley::crypto::Sha256(data);
        auto r = (*repo)->SaveBlob(halley::repo::BlobType::kData, id, data);
        if (!r) Die("save blob " + label + ": " + r.error().Message());
        blobs[label] = id;
        out["blobs"][label] = id.Hex();
      }
    }
    if (spec.contains("trees")) {
      for (const auto& t : spec["trees"]) {
        std::string label = t.at("label").get<std::string>();
        std::string text;
        if (t.contains("json")) {
          text = t["json"].get<std::string>();
        } else if (t.contains("b64")) {
          auto d = halley::Base64Decode(t["b64"].get<std::string>());
          if (!d) Die("tree " + label + ": " + d.error().Message());
          text = halley::ToString(*d);
        } else {
          Die("tree " + label + " needs \"json\" or \"b64\"");
        }
        text = Substitute(text, blobs, trees);
        Id id = halley::crypto::Sha256(halley::AsBytes(text));
        auto r = (*repo)->SaveBlob(halley::repo::BlobType::kTree, id, halley::AsBytes(text));
        if (!r) Die("save tree " + label + ": " + r.error().Message());
        trees[label] = id;
        out["trees"][label] = id.Hex();
      }
    }
    // Packs, then index, then snapshot (DESIGN §9).
    if (auto r = (*repo)->Flush(); !r) Die("flush: " + r.error().Message());
    if (spec.contains("snapshot")) {
      std::string text = Substitute(spec["snapshot"].get<std::string>(), blobs, trees);
      auto id = (*repo)->SaveUnpacked(halley::storage::ObjectType::kSnapshot, text);
      if (!id) Die("save snapshot: " + id.error().Message());
      out["snapshot"] = id->Hex();
    }
    if (spec.contains("locks")) {
      for (const auto& l : spec["locks"]) {
        auto id = (*repo)->SaveUnpacked(halley::storage::ObjectType::kLock, l.get<std::string>());
        if (!id) Die("save lock: " + id.error().Message());
        out["locks"].push_back(id->Hex());
      }
    }
    if (spec.contains("indexes")) {
      for (const auto& text : spec["indexes"]) {
        auto id =
            (*repo)->SaveUnpacked(halley::storage::ObjectType::kIndex, text.get<std::string>());
        if (!id) Die("save index: " + id.error().Message());
        out["indexes"].push_back(id->Hex());
      }
    }
  } catch (const Json::exception& e) {
    Die(std::string("invalid spec: ") + e.what());
  }

  std::cout << (out["snapshot"].is_null() ? std::string("-") : out["snapshot"].get<std::string>())
            << "\n"
            << out.dump() << "\n";
  return 0;
}
