// SPDX-License-Identifier: Apache-2.0
#include "engine/checker.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "crypto/hash.h"
#include "repo/compress.h"
#include "repo/index.h"
#include "repo/key_file.h"
#include "repo/pack.h"
#include "repo/packindex.h"
#include "snapshot/go_quote.h"
#include "snapshot/snapshot.h"
#include "snapshot/tree.h"

namespace halley::engine {

using repo::BlobType;
using repo::PackedBlob;
using storage::ObjectHandle;
using storage::ObjectType;

namespace {

constexpr int kMaxReads = 4;               // see the header: re-reads of a bad object
constexpr uint64_t kReadWindow = 4 << 20;  // bytes of a pack fetched per request: bounds memory
constexpr size_t kMaxUnpackedSize = size_t{512} << 20;
constexpr uint64_t kHeaderGuess = 15 * repo::kCompressedHeaderEntrySize + 36;  // as restic

ObjectHandle Handle(ObjectType type, const Id& id) { return {type, id.Hex()}; }
std::string PackPath(const Id& id) { return Handle(ObjectType::kData, id).Path(); }

std::string BlobRef(BlobType type, const Id& id) {
  return "<" + std::string(repo::BlobTypeName(type)) + "/" + id.Short() + ">";
}

std::string Quote(const std::string& raw) { return "\"" + snapshot::GoQuoteName(raw) + "\""; }

std::string Ordinal(int n) {
  switch (n) {
    case 2:
      return "second";
    case 3:
      return "third";
    case 4:
      return "fourth";
    default:
      return "attempt " + std::to_string(n);
  }
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string out = "[";
  for (size_t i = 0; i < errors.size(); ++i) out += (i ? "; " : "") + errors[i];
  return out + "]";
}

std::string PackErrorMessage(const Id& pack, const std::vector<std::string>& errors) {
  return "pack " + pack.Hex() + " contains " + std::to_string(errors.size()) +
         " errors: " + JoinErrors(errors);
}

struct BlobKey {
  BlobType type;
  Id id;
  bool operator==(const BlobKey&) const = default;
};
struct BlobKeyHash {
  size_t operator()(const BlobKey& k) const { return IdHash()(k.id) ^ static_cast<size_t>(k.type); }
};

bool SameBlob(const PackedBlob& a, const PackedBlob& b) {
  return a.type == b.type && a.id == b.id && a.offset == b.offset && a.length == b.length &&
         a.uncompressed_length == b.uncompressed_length;
}

void SortByOffset(std::vector<PackedBlob>& blobs) {
  std::sort(blobs.begin(), blobs.end(), [](const PackedBlob& a, const PackedBlob& b) {
    if (a.offset != b.offset) return a.offset < b.offset;
    return a.id < b.id;
  });
}

// Opens, decompresses and hashes one sealed blob; the error is restic's message. The plaintext
// lives in this thread's scratch buffers (reused blob after blob: fresh memory costs page
// faults) until the thread's next call.
Result<ByteView> DecodeSealed(const crypto::Key& key, const PackedBlob& b, const Id& pack,
                              ByteView sealed) {
  thread_local Bytes opened, decompressed;
  auto fail = [&](const std::string& what, const Error& e) {
    return Fail(ErrorCode::kCorruption, what + " blob " + BlobRef(b.type, b.id) + " from pack " +
                                            pack.Hex() + " failed: " + e.Message());
  };
  const size_t n =
      sealed.size() >= crypto::kSealOverhead ? sealed.size() - crypto::kSealOverhead : 0;
  if (opened.size() < n) opened.resize(n);
  if (auto r = crypto::OpenTo(key, sealed, opened.data()); !r) return fail("decrypting", r.error());
  ByteView plain = ByteView(opened).first(n);
  if (b.uncompressed_length != 0) {
    if (decompressed.size() < b.uncompressed_length) decompressed.resize(b.uncompressed_length);
    MutableByteView out = MutableByteView(decompressed).first(b.uncompressed_length);
    if (auto r = repo::DecompressExactTo(plain, out); !r) return fail("decompressing", r.error());
    plain = out;
  }
  Id got = crypto::Sha256(plain);
  if (got != b.id) {
    return Fail(ErrorCode::kCorruption, "read blob " + BlobRef(b.type, b.id) + " from pack " +
                                            pack.Hex() + ": wrong data returned, hash is " +
                                            got.Hex());
  }
  return plain;
}

// Whether reading again may give other bytes.
bool Retryable(const Error& e) {
  return e.Code() != ErrorCode::kNotFound && e.Code() != ErrorCode::kCancelled &&
         e.Code() != ErrorCode::kInvalidArgument && e.Code() != ErrorCode::kPermissionDenied;
}

// A whole object read with the re-read policy of the header: read until its bytes hash to
// its name (kOk), two reads return the same wrong bytes (kDamaged: the stored file is bad), or
// no answer can be trusted (kUnreadable: read errors, or every read returned different data).
struct WholeRead {
  enum class Outcome { kOk, kDamaged, kUnreadable };
  Outcome outcome = Outcome::kUnreadable;
  Bytes data;                            // kOk, kDamaged
  Id got;                                // kDamaged: SHA-256 of data
  Error error{ErrorCode::kIoError, ""};  // kUnreadable
  std::string cured;                     // kOk after a re-read: the first read's problem...
  int cured_at = 0;                      // ...and the attempt that was clean
};

WholeRead ReadWhole(storage::BlobStore& store, const ObjectHandle& h,
                    std::atomic<uint64_t>* bytes_read, std::atomic<uint64_t>* rereads,
                    const std::stop_token& stop) {
  WholeRead out;
  Id want;
  if (auto id = Id::FromHex(h.name)) want = *id;
  std::vector<Id> bad_hashes;
  std::vector<std::string> read_errors;
  std::string first_problem;
  int attempt = 1;
  for (; attempt <= kMaxReads; ++attempt) {
    if (attempt > 1) {
      if (stop.stop_requested()) {
        out.error = Error(ErrorCode::kCancelled, "interrupted");
        return out;
      }
      if (rereads) ++*rereads;
    }
    auto r = store.Get(h);
    if (!r) {
      bool seen = std::find(read_errors.begin(), read_errors.end(), r.error().Message()) !=
                  read_errors.end();
      if (!Retryable(r.error()) || seen) {
        out.error = r.error();  // not transient
        return out;
      }
      read_errors.push_back(r.error().Message());
      if (first_problem.empty()) first_problem = r.error().Message();
      continue;
    }
    if (bytes_read) *bytes_read += r->size();
    Id got = crypto::Sha256(*r);
    if (got == want) {
      out.outcome = WholeRead::Outcome::kOk;
      out.data = std::move(*r);
      if (attempt > 1) {
        out.cured = first_problem;
        out.cured_at = attempt;
      }
      return out;
    }
    if (std::find(bad_hashes.begin(), bad_hashes.end(), got) != bad_hashes.end()) {
      out.outcome = WholeRead::Outcome::kDamaged;  // two reads agree
      out.data = std::move(*r);
      out.got = got;
      return out;
    }
    bad_hashes.push_back(got);
    if (first_problem.empty()) {
      first_problem = "hash mismatch: " + h.Path() + " has SHA-256 " + got.Hex();
    }
  }
  out.error = Error(ErrorCode::kUnavailable,
                    "each of " + std::to_string(kMaxReads) +
                        " reads returned different data or failed (the storage or the "
                        "connection to it is unreliable); first: " +
                        first_problem);
  return out;
}

// CheckKeyFiles, counting what it reads.
Result<std::vector<CheckMessage>> CheckKeyFilesCounted(storage::BlobStore& store,
                                                       std::atomic<uint64_t>* bytes_read,
                                                       std::atomic<uint64_t>* rereads);

using RangeReader = std::function<Result<Bytes>(uint64_t offset, uint64_t length)>;
// Fills `out` with the pack's bytes at `offset`.
using PackReader = std::function<Result<void>(uint64_t offset, MutableByteView out)>;

// The outcome of one attempt at verifying a pack (or its header).
struct PackVerdict {
  std::vector<std::string> errors;
  std::vector<std::pair<BlobKey, std::string>> bad_blobs;  // blob, why
  std::optional<Id> fingerprint;  // SHA-256 of the bytes read (complete reads only)
  std::optional<Error> read_error;
  bool retry_useful = false;       // a re-read may give a different answer
  bool inconsistent = false;       // set by the retry loop: reads never agreed
  std::vector<PackedBlob> header;  // the entries of the header, when it could be read
};

// Checks the header of a pack of `size` bytes against `index_blobs`; `get` returns a range of
// the pack. Appends errors to v.
void CheckHeader(const crypto::Key& key, uint64_t size, const std::vector<PackedBlob>& index_blobs,
                 const RangeReader& get, PackVerdict& v) {
  constexpr uint64_t kMinPack = repo::kHeaderEntrySize + crypto::kSealOverhead * 2 + 4;
  if (size < kMinPack) {
    v.errors.push_back("pack header: pack of " + std::to_string(size) + " bytes is too short");
    return;
  }
  auto tail = get(size - 4, 4);
  if (!tail) {
    v.errors.push_back("reading pack header failed: " + tail.error().Message());
    v.read_error = tail.error();
    return;
  }
  uint32_t n = GetU32Le(tail->data());
  if (n < crypto::kSealOverhead + repo::kHeaderEntrySize || n > repo::kMaxHeaderSize ||
      n > size - 4) {
    v.errors.push_back("pack header: invalid header length " + std::to_string(n));
    return;
  }
  auto sealed = get(size - 4 - n, n);
  if (!sealed) {
    v.errors.push_back("reading pack header failed: " + sealed.error().Message());
    v.read_error = sealed.error();
    return;
  }
  auto plain = crypto::Open(key, *sealed);
  if (!plain) {
    v.errors.push_back("pack header: " + plain.error().Message());
    return;
  }
  auto entries = repo::ParsePackHeader(*plain);
  if (!entries) {
    v.errors.push_back("pack header: " + entries.error().Message());
    return;
  }
  v.header = *entries;
  const auto& last = entries->back();
  uint64_t data_end = size - 4 - n;
  if (uint64_t{last.offset} + last.length != data_end) {
    v.errors.push_back("pack header describes " +
                       std::to_string(uint64_t{last.offset} + last.length) +
                       " bytes of blobs, pack holds " + std::to_string(data_end));
  }
  uint64_t want = crypto::kSealOverhead;
  for (const auto& b : index_blobs) {
    want += b.Compressed() ? repo::kCompressedHeaderEntrySize : repo::kHeaderEntrySize;
  }
  if (want != n) {
    v.errors.push_back("pack header size does not match, want " + std::to_string(want) + ", got " +
                       std::to_string(n));
  }
  std::unordered_map<Id, std::vector<const PackedBlob*>, IdHash> by_id;
  for (const auto& b : index_blobs) by_id[b.id].push_back(&b);
  for (const auto& e : *entries) {
    bool found = false;
    if (auto it = by_id.find(e.id); it != by_id.end()) {
      for (const PackedBlob* b : it->second) found = found || SameBlob(*b, e);
    }
    if (!found) {
      v.errors.push_back("blob " + e.id.Hex() +
                         " is not contained in index or position is incorrect");
    }
  }
}

// Reads a pack from start to end (in windows, so that memory stays bounded), hashes it,
// decodes every blob the index places in it and checks the header. `blobs` is sorted by offset.
PackVerdict VerifyPackOnce(const crypto::Key& key, const Id& id, uint64_t size,
                           const std::vector<PackedBlob>& blobs, const PackReader& read_into,
                           const std::stop_token& stop) {
  RangeReader read = [&](uint64_t off, uint64_t len) -> Result<Bytes> {
    Bytes out(len);
    HALLEY_RETURN_IF_ERROR(read_into(off, out));
    return out;
  };
  PackVerdict v;
  if (blobs.empty()) {
    v.errors.push_back("pack is empty or not indexed");
  }
  uint64_t expect = 0, data_end = 0;
  bool gaps = false;
  for (const auto& b : blobs) {
    if (b.offset != expect) gaps = true;
    expect = uint64_t{b.offset} + b.length;
    data_end = std::max(data_end, expect);
  }
  data_end = std::min(data_end, size);
  if (gaps) v.errors.push_back("index for pack contains gaps / overlapping blobs");

  auto decode = [&](const PackedBlob& b, ByteView sealed) {
    auto r = DecodeSealed(key, b, id, sealed);
    if (!r) {
      v.errors.push_back(r.error().Message());
      v.bad_blobs.push_back({BlobKey{b.type, b.id}, r.error().Message()});
    }
  };

  crypto::Sha256Hasher hasher;
  // [0, buf_len) of this thread's buffer (grow-only, reused pack after pack) holds the pack's
  // bytes from buf_off on.
  thread_local Bytes buf;
  size_t buf_len = 0;
  uint64_t buf_off = 0, pos = 0;
  size_t next = 0;
  while (pos < size) {
    if (stop.stop_requested()) {
      v.read_error = Error(ErrorCode::kCancelled, "interrupted");
      v.errors.push_back("interrupted");
      return v;
    }
    uint64_t n = std::min(kReadWindow, size - pos);
    if (size - pos - n < kReadWindow / 8) n = size - pos;  // no small read for the header
    if (buf_len == 0) buf_off = pos;
    if (buf.size() < buf_len + n) buf.resize(buf_len + n);
    MutableByteView chunk = MutableByteView(buf).subspan(buf_len, n);
    if (auto r = read_into(pos, chunk); !r) {
      v.read_error = r.error();
      v.retry_useful = Retryable(r.error());
      v.errors.push_back("reading the pack failed at offset " + std::to_string(pos) + ": " +
                         r.error().Message());
      return v;
    }
    hasher.Update(chunk);
    buf_len += n;
    pos += n;
    while (next < blobs.size()) {
      const PackedBlob& b = blobs[next];
      uint64_t end = uint64_t{b.offset} + b.length;
      if (end > size) {
        std::string m = "blob " + BlobRef(b.type, b.id) + " at offset " + std::to_string(b.offset) +
                        " (length " + std::to_string(b.length) +
                        ") extends beyond the end of the pack (" + std::to_string(size) + " bytes)";
        v.errors.push_back(m);
        v.bad_blobs.push_back({BlobKey{b.type, b.id}, m});
        ++next;
        continue;
      }
      if (end > pos) break;
      if (b.offset >= buf_off) {
        decode(b, ByteView(buf).subspan(b.offset - buf_off, b.length));
      } else {
        // Overlapping index entries: the bytes were dropped already, fetch them again.
        auto again = read(b.offset, b.length);
        if (again) {
          decode(b, *again);
        } else {
          v.errors.push_back("reading blob " + BlobRef(b.type, b.id) +
                             " failed: " + again.error().Message());
        }
      }
      ++next;
    }
    // Keep what the next blobs and the header (which follows the last blob) still need.
    uint64_t need = next < blobs.size() ? std::min<uint64_t>(blobs[next].offset, pos) : pos;
    uint64_t keep_from = std::max(buf_off, std::min(need, data_end));
    if (keep_from > buf_off) {
      uint64_t drop = std::min<uint64_t>(keep_from - buf_off, buf_len);
      std::memmove(buf.data(), buf.data() + drop, buf_len - drop);
      buf_len -= drop;
      buf_off += drop;
    }
  }
  Id got = hasher.Finish();
  v.fingerprint = got;
  if (got != id) {
    v.errors.push_back("Pack ID does not match, want " + id.Hex() + ", got " + got.Hex());
    v.retry_useful = true;
  }
  RangeReader get = [&](uint64_t off, uint64_t len) -> Result<Bytes> {
    if (off >= buf_off && off + len <= buf_off + buf_len) {
      auto first = buf.begin() + static_cast<ptrdiff_t>(off - buf_off);
      return Bytes(first, first + static_cast<ptrdiff_t>(len));
    }
    return read(off, len);
  };
  CheckHeader(key, size, blobs, get, v);
  return v;
}

// Reads and checks only the header of a pack (deep verify of data packs, and packs no
// readable index lists). The fingerprint is the hash of the bytes read.
PackVerdict HeaderOnce(storage::BlobStore& store, const crypto::Key& key, const Id& id,
                       uint64_t size, const std::vector<PackedBlob>& index_blobs,
                       std::atomic<uint64_t>* bytes_read) {
  PackVerdict v;
  ObjectHandle h = Handle(ObjectType::kData, id);
  crypto::Sha256Hasher fp;
  uint64_t guess = std::min(size, kHeaderGuess);
  Bytes tail;
  uint64_t tail_off = size - guess;
  if (guess > 0) {
    auto r = store.Get(h, tail_off, guess);
    if (!r) {
      v.read_error = r.error();
      v.retry_useful = Retryable(r.error());
      v.errors.push_back("reading pack header failed: " + r.error().Message());
      return v;
    }
    if (bytes_read) *bytes_read += r->size();
    fp.Update(*r);
    tail = std::move(*r);
  }
  RangeReader get = [&](uint64_t off, uint64_t len) -> Result<Bytes> {
    if (off >= tail_off && off + len <= tail_off + tail.size()) {
      auto first = tail.begin() + static_cast<ptrdiff_t>(off - tail_off);
      return Bytes(first, first + static_cast<ptrdiff_t>(len));
    }
    auto r = store.Get(h, off, len);
    if (r) {
      if (bytes_read) *bytes_read += r->size();
      fp.Update(*r);
    }
    return r;
  };
  CheckHeader(key, size, index_blobs, get, v);
  v.fingerprint = fp.Finish();
  // Without the whole pack there is no telling damage at rest from a bad transfer: any
  // failure is worth a second read, and two reads of the same bytes settle it.
  v.retry_useful = !v.errors.empty() && (!v.read_error || Retryable(*v.read_error));
  return v;
}

bool Agree(const PackVerdict& a, const PackVerdict& b) {
  if (a.fingerprint && b.fingerprint) return *a.fingerprint == *b.fingerprint;
  if (a.read_error && b.read_error) {
    return a.read_error->Code() == b.read_error->Code() &&
           a.read_error->Message() == b.read_error->Message();
  }
  return false;
}

// Pool of `threads` workers running fn(i) for i in [0, n).
void ParallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    while (true) {
      size_t i = next++;
      if (i >= n) return;
      fn(i);
    }
  };
  size_t t = std::min<size_t>(static_cast<size_t>(std::max(1, threads)), n);
  std::vector<std::thread> pool;
  for (size_t k = 1; k < t; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

// The temporary directory of one check, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() = default;
  ~TempDir() { Remove(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  Result<void> Make(std::string parent) {
    if (parent.empty()) {
      const char* t = std::getenv("TMPDIR");
      parent = t && *t ? t : "/tmp";
    }
    std::string tmpl = parent + "/halley-check-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Fail(ErrnoError("creating a temporary directory in " + parent, errno));
    }
    path_ = tmpl;
    return {};
  }
  const std::string& Path() const { return path_; }
  void Remove() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }

 private:
  std::string path_;
};

Result<void> WriteFile(const std::string& path, ByteView data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(ErrnoError("creating " + path, errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = errno;
      ::close(fd);
      return Fail(ErrnoError("writing " + path, err));
    }
    done += static_cast<size_t>(w);
  }
  if (::close(fd) != 0) return Fail(ErrnoError("closing " + path, errno));
  return {};
}

Result<Bytes> ReadFileRange(const std::string& path, uint64_t offset, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError("opening " + path, errno));
  Bytes out(length);
  size_t done = 0;
  while (done < length) {
    ssize_t r = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      return Fail(ErrnoError("reading " + path, err));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  if (done != length) {
    return Fail(ErrorCode::kCorruption, "range " + std::to_string(offset) + "+" +
                                            std::to_string(length) + " is beyond the end");
  }
  return out;
}

struct PackInfo {
  std::vector<PackedBlob> blobs;  // sorted by offset, as the first index file lists them
  uint64_t expected_size = 0;
  std::optional<uint64_t> size;  // as stored; nullopt: missing
  std::vector<Id> index_files;
  bool differing = false;  // index files disagree about its content
  bool has_tree = false, has_data = false;
  bool from_header = false;  // no readable index lists it; learnt from its header
  bool verified = false;     // read whole and verified already
};

class Checker {
 public:
  Checker(repo::Repository& repo, const CheckOptions& options)
      : repo_(repo), store_(repo.Store()), key_(repo.MasterKey()), opt_(options) {
    threads_ = opt_.threads > 0 ? opt_.threads : 3;
  }

  Result<CheckReport> Run() {
    HALLEY_RETURN_IF_ERROR(temp_.Make(opt_.temp_dir));
    report_.temp_dir = temp_.Path();
    Info("using temporary cache in " + temp_.Path());
    HALLEY_RETURN_IF_ERROR(CheckKeys());
    HALLEY_RETURN_IF_ERROR(LoadIndexes());
    HALLEY_RETURN_IF_ERROR(CheckPackFiles());
    report_.packs = packs_.size();
    HALLEY_RETURN_IF_ERROR(CheckSnapshots());
    HALLEY_RETURN_IF_ERROR(CheckPackIndexes());
    size_t bad_before = bad_blobs_.size();
    if (opt_.read_data) HALLEY_RETURN_IF_ERROR(ReadData());
    if (opt_.deep) HALLEY_RETURN_IF_ERROR(DeepHeaders());
    if (bad_blobs_.size() != bad_before) {
      // Reading found damaged blobs the walk did not know of: recompute who depends on them.
      HALLEY_RETURN_IF_ERROR(Walk(/*report=*/false));
    }
    for (const auto& [snap, tokens] : snapshot_damage_) {
      report_.damaged_snapshots[snap] = tokens;
      AddError({DependsOnMissingMessage(snap, tokens), std::nullopt, ""});
    }
    report_.bytes_read = bytes_read_;
    report_.rereads = rereads_;
    temp_.Remove();
    return std::move(report_);
  }

 private:
  // --- events and findings ------------------------------------------------------------------

  void EmitLocked(const CheckEvent& e) {
    if (opt_.on_event) opt_.on_event(e);
  }
  void Phase(std::string text) {
    std::lock_guard lock(mu_);
    EmitLocked({CheckEventKind::kPhase, std::move(text), {}, 0, 0, ""});
  }
  void Info(std::string text) {
    std::lock_guard lock(mu_);
    EmitLocked({CheckEventKind::kInfo, std::move(text), {}, 0, 0, ""});
  }
  void Progress(uint64_t done, uint64_t total, std::string unit) {
    std::lock_guard lock(mu_);
    EmitLocked({CheckEventKind::kProgress, "", {}, done, total, std::move(unit)});
  }
  void AddError(CheckMessage m) {
    std::lock_guard lock(mu_);
    if (!m.path.empty()) report_.damaged_files.insert(m.path);
    report_.errors.push_back(m);
    EmitLocked({CheckEventKind::kError, "", std::move(m), 0, 0, ""});
  }
  void AddNotice(CheckMessage m) {
    std::lock_guard lock(mu_);
    report_.notices.push_back(m);
    EmitLocked({CheckEventKind::kNotice, "", std::move(m), 0, 0, ""});
  }
  void BrokenPack(const Id& id) {
    std::lock_guard lock(mu_);
    report_.broken_packs.insert(id);
  }
  Result<void> Stopped() const {
    if (opt_.stop.stop_requested()) return Fail(ErrorCode::kCancelled, "interrupted");
    return {};
  }

  // Runs `once` with the re-read policy; notices a cure, marks disagreeing reads.
  PackVerdict WithRereads(const std::string& what, const std::function<PackVerdict()>& once) {
    PackVerdict first = once();
    if (first.errors.empty() || !first.retry_useful) return first;
    std::vector<PackVerdict> failed{first};
    for (int attempt = 2; attempt <= kMaxReads; ++attempt) {
      if (opt_.stop.stop_requested()) break;
      ++rereads_;
      PackVerdict v = once();
      if (v.errors.empty()) {
        AddNotice({what + ": check successful on " + Ordinal(attempt) +
                       " attempt, original error " + JoinErrors(first.errors),
                   std::nullopt, ""});
        return v;
      }
      if (!v.retry_useful) return v;
      for (const auto& f : failed) {
        if (Agree(f, v)) return v;
      }
      failed.push_back(std::move(v));
    }
    PackVerdict last = std::move(failed.back());
    last.inconsistent = true;  // no two reads agreed
    return last;
  }

  // Reads, decrypts and decompresses an unpacked file (index, snapshot, packindex) with the
  // re-read policy. On failure `damaged` tells whether the stored file is to blame.
  Result<std::string> LoadFile(ObjectType type, const Id& id, bool& damaged) {
    damaged = false;
    ObjectHandle h = Handle(type, id);
    std::string ctx = "Load(" + repo::ShortHandle(h) + ")";
    WholeRead r = ReadWhole(store_, h, &bytes_read_, &rereads_, opt_.stop);
    if (r.outcome == WholeRead::Outcome::kUnreadable) return Fail(r.error.WithContext(ctx));
    if (r.outcome == WholeRead::Outcome::kDamaged) {
      damaged = true;
      return Fail(ErrorCode::kCorruption,
                  ctx + ": hash mismatch: " + h.Path() + " has SHA-256 " + r.got.Hex());
    }
    if (!r.cured.empty()) {
      AddNotice({h.Path() + ": read successful on " + Ordinal(r.cured_at) +
                     " attempt, original error " + r.cured,
                 std::nullopt, ""});
    }
    damaged = true;  // from here on the bytes are what was stored
    auto plain = crypto::Open(key_, r.data);
    if (!plain) return Fail(plain.error().WithContext(ctx));
    if (plain->empty()) return Fail(ErrorCode::kCorruption, ctx + ": empty file");
    uint8_t first = (*plain)[0];
    if (repo_.GetConfig().version < 2 || first == '{' || first == '[') {
      damaged = false;
      return std::string(AsString(*plain));
    }
    if (first != 2) {
      return Fail(ErrorCode::kCorruption,
                  ctx + ": Decode: not supported encoding format " + std::to_string(first));
    }
    auto data = repo::DecompressBounded(ByteView(*plain).subspan(1), kMaxUnpackedSize);
    if (!data) return Fail(data.error().WithContext(ctx + ": Decode"));
    damaged = false;
    return std::string(AsString(*data));
  }

  // --- 1. key files ---------------------------------------------------------------------------

  Result<void> CheckKeys() {
    HALLEY_ASSIGN_OR_RETURN(auto problems, CheckKeyFilesCounted(store_, &bytes_read_, &rereads_));
    for (auto& m : problems) AddError(std::move(m));
    return {};
  }

  // --- 2. index -------------------------------------------------------------------------------

  Result<void> LoadIndexes() {
    Phase("load indexes");
    std::vector<Id> ids;
    HALLEY_RETURN_IF_ERROR(store_.List(ObjectType::kIndex, [&](const storage::ObjectInfo& i) {
      if (auto id = Id::FromHex(i.name)) ids.push_back(*id);
      return Result<void>{};
    }));
    std::sort(ids.begin(), ids.end());
    // Decrypting and parsing is CPU-bound, reading may be slow: several at once, merged in
    // name order so that the outcome does not depend on timing.
    std::vector<std::optional<repo::IndexFile>> files(ids.size());
    std::vector<std::optional<CheckMessage>> failures(ids.size());
    ParallelFor(ids.size(), threads_, [&](size_t i) {
      if (opt_.stop.stop_requested()) return;
      bool damaged = false;
      auto text = LoadFile(ObjectType::kIndex, ids[i], damaged);
      std::string path = Handle(ObjectType::kIndex, ids[i]).Path();
      if (!text) {
        failures[i] =
            CheckMessage{"error loading index " + ids[i].Hex() + ": " + text.error().Message(),
                         std::nullopt, damaged ? path : ""};
        return;
      }
      auto file = repo::DecodeIndexFile(*text);
      if (!file) {
        failures[i] = CheckMessage{"error loading index " + ids[i].Hex() + ": Load(" +
                                       repo::ShortHandle(Handle(ObjectType::kIndex, ids[i])) +
                                       "): Decode: " + file.error().Message(),
                                   std::nullopt, path};
        return;
      }
      files[i] = std::move(*file);
    });
    HALLEY_RETURN_IF_ERROR(Stopped());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (failures[i]) {
        index_errors_ = true;
        report_.suggest_rebuild_index = true;
        AddError(std::move(*failures[i]));
        continue;
      }
      for (auto& p : files[i]->packs) AddIndexedPack(ids[i], std::move(p));
    }
    for (auto& [id, info] : packs_) {
      if (info.index_files.size() > 1) {
        std::string list;
        for (const Id& f : info.index_files) list += (list.empty() ? "" : " ") + f.Hex();
        AddNotice({"pack " + id.Hex() + " contained in several indexes: {" + list + "}",
                   std::nullopt, ""});
        report_.suggest_rebuild_index = true;
        if (info.differing) {
          AddNotice({"pack " + id.Hex() + " has different data in indexes: {" + list + "}",
                     std::nullopt, ""});
        }
      }
      if (info.has_tree && info.has_data) {
        AddNotice(
            {"pack " + id.Short() + " contains a mix of tree and data blobs", std::nullopt, ""});
        report_.suggest_prune = true;
      }
    }
    return {};
  }

  void AddIndexedPack(const Id& index_file, repo::IndexPack p) {
    SortByOffset(p.blobs);
    auto [it, fresh] = packs_.try_emplace(p.id);
    PackInfo& info = it->second;
    if (std::find(info.index_files.begin(), info.index_files.end(), index_file) ==
        info.index_files.end()) {
      info.index_files.push_back(index_file);
    }
    if (!fresh) {
      bool same = info.blobs.size() == p.blobs.size();
      for (size_t i = 0; same && i < p.blobs.size(); ++i)
        same = SameBlob(info.blobs[i], p.blobs[i]);
      if (!same) info.differing = true;
      return;
    }
    SetPackBlobs(info, std::move(p.blobs));
    index_.AddPack(p.id, info.blobs);
  }

  static void SetPackBlobs(PackInfo& info, std::vector<PackedBlob> blobs) {
    info.blobs = std::move(blobs);
    info.expected_size = repo::PackSize(info.blobs);
    for (const auto& b : info.blobs) {
      (b.type == BlobType::kTree ? info.has_tree : info.has_data) = true;
    }
  }

  // --- 3. pack files --------------------------------------------------------------------------

  Result<void> CheckPackFiles() {
    HALLEY_RETURN_IF_ERROR(Stopped());
    Phase("check all packs");
    std::map<Id, uint64_t> listed;
    HALLEY_RETURN_IF_ERROR(store_.List(ObjectType::kData, [&](const storage::ObjectInfo& i) {
      if (auto id = Id::FromHex(i.name)) listed[*id] = i.size;
      return Result<void>{};
    }));
    for (auto& [id, info] : packs_) {
      auto it = listed.find(id);
      if (it == listed.end()) {
        AddError({"pack " + id.Hex() + ": does not exist", std::nullopt, ""});
        BrokenPack(id);
        report_.suggest_rebuild_index = true;
        continue;
      }
      info.size = it->second;
      if (it->second != info.expected_size) {
        AddError({"pack " + id.Hex() + ": unexpected file size: got " + std::to_string(it->second) +
                      ", expected " + std::to_string(info.expected_size),
                  std::nullopt, PackPath(id)});
        BrokenPack(id);
        report_.suggest_rebuild_index = true;
      }
    }
    std::vector<Id> orphans;
    for (const auto& [id, size] : listed) {
      if (!packs_.count(id)) orphans.push_back(id);
    }
    for (const Id& id : orphans) {
      AddNotice({"pack " + id.Hex() + ": not referenced in any index", std::nullopt, ""});
    }
    if (!orphans.empty()) {
      report_.suggest_prune = true;
      AddNotice({std::to_string(orphans.size()) +
                     " additional files were found in the repo, which likely contain duplicate "
                     "data.\nThis is non-critical, you can run `prune` to correct this.",
                 std::nullopt, ""});
    }
    if (index_errors_ && !orphans.empty()) {
      HALLEY_RETURN_IF_ERROR(RecoverUnindexed(orphans, listed));
    }
    return {};
  }

  // Index files failed to load: what the packs no index lists hold comes from their headers,
  // so that the rest of the check (and the snapshots it names) reflects what is really
  // stored, as it will be after rebuild-index.
  Result<void> RecoverUnindexed(const std::vector<Id>& orphans,
                                const std::map<Id, uint64_t>& listed) {
    std::vector<PackVerdict> verdicts(orphans.size());
    ParallelFor(orphans.size(), threads_, [&](size_t i) {
      if (opt_.stop.stop_requested()) return;
      const Id& id = orphans[i];
      uint64_t size = listed.at(id);
      verdicts[i] = WithRereads(PackPath(id), [&] {
        PackVerdict v = HeaderOnce(store_, key_, id, size, {}, &bytes_read_);
        // With no index to compare with, only reading the header counts.
        if (!v.header.empty()) {
          v.errors.clear();
          v.retry_useful = false;
        }
        return v;
      });
    });
    HALLEY_RETURN_IF_ERROR(Stopped());
    size_t recovered = 0;
    for (size_t i = 0; i < orphans.size(); ++i) {
      const Id& id = orphans[i];
      PackVerdict& v = verdicts[i];
      if (v.header.empty()) {
        AddError({"pack " + id.Hex() +
                      ": not referenced in any readable index, and its header cannot be read: " +
                      JoinErrors(v.errors),
                  std::nullopt, v.read_error ? "" : PackPath(id)});
        BrokenPack(id);
        continue;
      }
      PackInfo& info = packs_[id];
      SortByOffset(v.header);
      SetPackBlobs(info, std::move(v.header));
      info.size = listed.at(id);
      info.from_header = true;
      index_.AddPack(id, info.blobs);
      ++recovered;
    }
    if (recovered > 0) {
      report_.suggest_rebuild_index = true;
      AddNotice({std::to_string(recovered) +
                     " packs are not listed by any readable index; their headers were read "
                     "instead. Run `rebuild-index` to index them again.",
                 std::nullopt, ""});
    }
    return {};
  }

  // --- 4. tree packs, snapshots and trees -----------------------------------------------------

  // Downloads every pack holding trees, once, into the temporary directory and verifies it
  // (name, header, every blob) as read_data would.
  Result<void> FetchTreePacks() {
    std::vector<Id> ids;
    for (const auto& [id, info] : packs_) {
      if (info.has_tree && info.size) ids.push_back(id);
    }
    ParallelFor(ids.size(), threads_, [&](size_t i) {
      if (opt_.stop.stop_requested()) return;
      const Id& id = ids[i];
      const PackInfo& info = packs_.at(id);
      ObjectHandle h = Handle(ObjectType::kData, id);
      WholeRead r = ReadWhole(store_, h, &bytes_read_, &rereads_, opt_.stop);
      if (r.outcome == WholeRead::Outcome::kUnreadable) {
        // Nothing is known about the stored pack: an error, but no damage to blame.
        std::string m = "pack " + id.Hex() + " cannot be read: " + r.error.Message();
        AddError({m, std::nullopt, ""});
        std::lock_guard lock(mu_);
        tree_pack_errors_[id] = m;
        return;
      }
      if (!r.cured.empty()) {
        AddNotice({"pack " + id.Hex() + ": check successful on " + Ordinal(r.cured_at) +
                       " attempt, original error " + r.cured,
                   std::nullopt, ""});
      }
      std::string file = temp_.Path() + "/" + id.Hex();
      auto w = WriteFile(file, r.data);
      if (!w) {
        std::lock_guard lock(mu_);
        if (!fatal_) fatal_ = w.error();
        return;
      }
      const Bytes& data = r.data;
      PackReader mem = [&](uint64_t off, MutableByteView out) -> Result<void> {
        if (off + out.size() > data.size()) return Fail(ErrorCode::kCorruption, "beyond the end");
        std::memcpy(out.data(), data.data() + off, out.size());
        return {};
      };
      PackVerdict v = VerifyPackOnce(key_, id, data.size(), info.blobs, mem, opt_.stop);
      std::lock_guard lock(mu_);
      tree_cache_[id] = file;
      ++report_.packs_read;
      verified_results_.push_back({id, std::move(v)});
    });
    if (fatal_) return Fail(*fatal_);
    HALLEY_RETURN_IF_ERROR(Stopped());
    // Report in pack order, whatever order the threads finished in.
    std::sort(verified_results_.begin(), verified_results_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, v] : verified_results_) {
      packs_.at(id).verified = true;
      RecordPackVerdict(id, v);
    }
    verified_results_.clear();
    return {};
  }

  // Reports the outcome of verifying a pack. Damage is blamed on the stored pack only when
  // the bytes read are what is stored: the pack hashed to its name, or two reads agreed. A
  // pack that could not be read, or that read differently every time, is an error that blames
  // nothing (no broken pack, no damaged snapshot).
  void RecordPackVerdict(const Id& id, PackVerdict v) {
    if (v.errors.empty()) return;
    if (v.inconsistent || v.read_error) {
      if (v.inconsistent) {
        v.errors.push_back("each of " + std::to_string(kMaxReads) +
                           " reads returned different data: the storage or the connection to "
                           "it is unreliable");
      }
      AddError({"pack " + id.Hex() + " could not be verified: " + JoinErrors(v.errors),
                std::nullopt, ""});
      return;
    }
    for (const auto& [key, why] : v.bad_blobs) {
      std::lock_guard lock(mu_);
      bad_blobs_.try_emplace(key, BadBlob{id, why});
    }
    AddError({PackErrorMessage(id, v.errors), std::nullopt, PackPath(id)});
    BrokenPack(id);
  }

  Result<void> CheckSnapshots() {
    HALLEY_RETURN_IF_ERROR(Stopped());
    Phase("check snapshots, trees and blobs");
    HALLEY_RETURN_IF_ERROR(FetchTreePacks());
    std::vector<Id> ids;
    HALLEY_RETURN_IF_ERROR(store_.List(ObjectType::kSnapshot, [&](const storage::ObjectInfo& i) {
      if (auto id = Id::FromHex(i.name)) ids.push_back(*id);
      return Result<void>{};
    }));
    std::sort(ids.begin(), ids.end());
    report_.snapshots = ids.size();
    for (const Id& id : ids) {
      HALLEY_RETURN_IF_ERROR(Stopped());
      snapshot_files_.insert(id);
      bool damaged = false;
      auto text = LoadFile(ObjectType::kSnapshot, id, damaged);
      Result<snapshot::Snapshot> s =
          text ? snapshot::DecodeSnapshot(*text) : Result<snapshot::Snapshot>(Fail(text.error()));
      if (!s) {
        if (text) damaged = true;
        std::string m = text ? "Decode: " + s.error().Message() : s.error().Message();
        AddError({"snapshot " + id.Hex() + ": " + m, std::nullopt,
                  damaged ? Handle(ObjectType::kSnapshot, id).Path() : ""});
        if (damaged) {
          std::lock_guard lock(mu_);
          report_.damaged_snapshots[id];
        }
        continue;
      }
      roots_.push_back({id, s->tree});
    }
    return Walk(/*report=*/true);
  }

  // Why a data blob cannot be restored: the short ID of the pack to blame, or of the blob if
  // no index lists it. nullopt if it is fine as far as the check knows.
  std::optional<std::string> DataDamage(const Id& blob) {
    auto loc = index_.Lookup(BlobType::kData, blob);
    if (!loc) return blob.Short();
    const PackInfo& info = packs_.at(loc->pack);
    if (!info.size || uint64_t{loc->offset} + loc->length > *info.size ||
        bad_blobs_.count(BlobKey{BlobType::kData, blob})) {
      return loc->pack.Short();
    }
    return std::nullopt;
  }

  // Loads a tree from the tree-pack cache. On failure sets `token` (empty if nothing is known
  // to be damaged; else what the tree's users
  // depend on) and, when reporting, reports why.
  std::optional<snapshot::Tree> LoadTree(const Id& id, bool report, std::string& token) {
    auto fail = [&](std::string why, std::string tok, std::string path) {
      token = std::move(tok);
      if (report) AddError({"couldn't load tree " + id.Hex() + ": " + why, id, std::move(path)});
      return std::nullopt;
    };
    auto loc = index_.Lookup(BlobType::kTree, id);
    if (!loc) return fail("not found in index", id.Short(), "");
    const Id& pack = loc->pack;
    const PackInfo& info = packs_.at(pack);
    if (!info.size) return fail("pack " + pack.Hex() + " does not exist", pack.Short(), "");
    if (auto it = bad_blobs_.find(BlobKey{BlobType::kTree, id}); it != bad_blobs_.end()) {
      std::string why = it->second.why;
      if (why.find("wrong data returned") != std::string::npos) why = "hash mismatch: " + why;
      return fail(why, pack.Short(), PackPath(pack));
    }
    auto cached = tree_cache_.find(pack);
    if (cached == tree_cache_.end()) {
      auto e = tree_pack_errors_.find(pack);
      // The pack could not be read: nothing is known about the tree, which blames nothing.
      return fail(e != tree_pack_errors_.end() ? e->second : "pack " + pack.Hex() + " not read", "",
                  "");
    }
    PackedBlob b;
    b.type = BlobType::kTree;
    b.id = id;
    b.offset = loc->offset;
    b.length = loc->length;
    b.uncompressed_length = loc->uncompressed_length;
    auto sealed = ReadFileRange(cached->second, b.offset, b.length);
    if (!sealed) {
      return fail("blob " + BlobRef(b.type, id) + " lies beyond the end of pack " + pack.Hex(),
                  pack.Short(), PackPath(pack));
    }
    auto plain = DecodeSealed(key_, b, pack, *sealed);
    if (!plain) return fail(plain.error().Message(), pack.Short(), PackPath(pack));
    auto tree = snapshot::DecodeTree(AsString(*plain));
    if (!tree) return fail("Decode: " + tree.error().Message(), id.Short(), PackPath(pack));
    return std::move(*tree);
  }

  // restic's node checks; adds what the tree's data depends on to `damage`.
  void CheckNodes(const Id& tree_id, const snapshot::Tree& tree, bool report,
                  std::vector<std::string>& damage, std::unordered_set<Id, IdHash>* data_seen) {
    auto err = [&](std::string m) {
      if (report) AddError({"tree " + tree_id.Hex() + ": " + m, tree_id, ""});
    };
    for (const auto& n : tree.nodes) {
      switch (n.type) {
        case snapshot::NodeType::kFile:
          if (!n.content) {
            err("file " + Quote(n.name) + " has nil blob list");
            break;
          }
          for (size_t i = 0; i < n.content->size(); ++i) {
            const Id& b = (*n.content)[i];
            if (b.IsNull()) {
              err("file " + Quote(n.name) + " blob " + std::to_string(i) + " has null ID");
              continue;
            }
            if (data_seen) data_seen->insert(b);
            if (auto tok = DataDamage(b)) {
              damage.push_back(*tok);
              if (!index_.Has(BlobType::kData, b)) {
                err("file " + Quote(n.name) + " blob " + b.Hex() + " not found in index");
              }
            }
          }
          break;
        case snapshot::NodeType::kDir:
          if (!n.subtree) {
            err("dir node " + Quote(n.name) + " has no subtree");
          } else if (n.subtree->IsNull()) {
            err("dir node " + Quote(n.name) + " subtree id is null");
          }
          break;
        default:
          break;  // the decoder accepts only valid types
      }
      if (n.name.empty()) err("node with empty name");
    }
  }

  // Walks every snapshot's trees once (memoised), computing for each snapshot what missing
  // or damaged objects it depends on. With `report`, also reports tree errors and counts.
  Result<void> Walk(bool report) {
    std::unordered_map<Id, uint32_t, IdHash> memo;  // tree -> index into damages
    std::vector<std::vector<std::string>> damages{{}};
    std::unordered_set<Id, IdHash> in_progress;
    std::unordered_set<Id, IdHash> data_seen;
    if (report) data_seen.reserve(index_.BlobCount(BlobType::kData));  // no rehashing as it grows
    snapshot_damage_.clear();
    struct Frame {
      Id id;
      std::optional<snapshot::Tree> tree;
      std::vector<std::string> damage;
    };
    uint64_t done = 0;
    for (const auto& [snap, root] : roots_) {
      std::vector<Frame> stack;
      stack.push_back({root, std::nullopt, {}});
      while (!stack.empty()) {
        HALLEY_RETURN_IF_ERROR(Stopped());
        Frame& f = stack.back();
        if (!f.tree) {
          if (memo.count(f.id) || in_progress.count(f.id)) {
            stack.pop_back();
            continue;
          }
          std::string token;
          auto tree = LoadTree(f.id, report, token);
          if (!tree) {
            uint32_t slot = 0;
            if (!token.empty()) {
              damages.push_back({token});
              slot = static_cast<uint32_t>(damages.size() - 1);
            }
            memo[f.id] = slot;
            stack.pop_back();
            continue;
          }
          if (report) ++report_.trees;
          CheckNodes(f.id, *tree, report, f.damage, report ? &data_seen : nullptr);
          in_progress.insert(f.id);
          std::vector<Id> children;
          for (const auto& n : tree->nodes) {
            if (n.type == snapshot::NodeType::kDir && n.subtree && !n.subtree->IsNull() &&
                !memo.count(*n.subtree)) {
              children.push_back(*n.subtree);
            }
          }
          f.tree = std::move(*tree);
          for (auto it = children.rbegin(); it != children.rend(); ++it) {
            stack.push_back({*it, std::nullopt, {}});
          }
          continue;
        }
        for (const auto& n : f.tree->nodes) {
          if (n.type != snapshot::NodeType::kDir || !n.subtree) continue;
          auto m = memo.find(*n.subtree);
          if (m == memo.end()) continue;  // a cycle, which hashes make impossible
          const auto& d = damages[m->second];
          f.damage.insert(f.damage.end(), d.begin(), d.end());
        }
        std::sort(f.damage.begin(), f.damage.end());
        f.damage.erase(std::unique(f.damage.begin(), f.damage.end()), f.damage.end());
        uint32_t slot = 0;
        if (!f.damage.empty()) {
          damages.push_back(std::move(f.damage));
          slot = static_cast<uint32_t>(damages.size() - 1);
        }
        memo[f.id] = slot;
        in_progress.erase(f.id);
        stack.pop_back();
      }
      const auto& d = damages[memo[root]];
      if (!d.empty()) snapshot_damage_[snap] = d;
      if (report) Progress(++done, roots_.size(), "snapshots");
    }
    if (report) {
      if (roots_.empty()) Progress(0, 0, "snapshots");
      report_.data_blobs = data_seen.size();
    }
    return {};
  }

  // --- 5. packindex ---------------------------------------------------------------------------

  Result<void> CheckPackIndexes() {
    HALLEY_RETURN_IF_ERROR(Stopped());
    Phase("check packindex files");
    std::vector<Id> ids;
    HALLEY_RETURN_IF_ERROR(store_.List(ObjectType::kPackIndex, [&](const storage::ObjectInfo& i) {
      if (auto id = Id::FromHex(i.name)) ids.push_back(*id);
      return Result<void>{};
    }));
    std::sort(ids.begin(), ids.end());
    std::set<Id> covered;
    for (const Id& id : ids) {
      HALLEY_RETURN_IF_ERROR(Stopped());
      std::string path = Handle(ObjectType::kPackIndex, id).Path();
      bool damaged = false;
      auto text = LoadFile(ObjectType::kPackIndex, id, damaged);
      if (!text) {
        AddError({"error loading packindex " + id.Hex() + ": " + text.error().Message(),
                  std::nullopt, damaged ? path : ""});
        continue;
      }
      auto p = repo::DecodePackIndex(*text);
      if (!p) {
        AddError({"error loading packindex " + id.Hex() + ": Load(" +
                      repo::ShortHandle(Handle(ObjectType::kPackIndex, id)) +
                      "): Decode: " + p.error().Message(),
                  std::nullopt, path});
        continue;
      }
      covered.insert(p->snapshot);
      if (!snapshot_files_.count(p->snapshot)) {
        AddNotice({"packindex " + id.Short() + " is for snapshot " + p->snapshot.Short() +
                       ", which does not exist (the next retention pass removes it)",
                   std::nullopt, ""});
        report_.suggest_prune = true;
      }
      for (const Id& pack : p->packs) {
        if (!packs_.count(pack)) {
          AddError({UnknownPackMessage(id, p->snapshot, pack), std::nullopt, ""});
        }
      }
    }
    for (const Id& s : snapshot_files_) {
      if (!covered.count(s)) {
        AddNotice({"snapshot " + s.Short() +
                       " has no packindex (the next retention pass writes it; until then "
                       "retention is slower)",
                   std::nullopt, ""});
      }
    }
    return {};
  }

  // --- 6. read data / deep ----------------------------------------------------------------------

  Result<void> ReadData() {
    HALLEY_RETURN_IF_ERROR(Stopped());
    std::map<Id, uint64_t> all;
    for (const auto& [id, info] : packs_) {
      if (info.size) all[id] = *info.size;
    }
    const ReadDataSubset& s = opt_.subset;
    uint64_t seed = opt_.seed ? opt_.seed : std::random_device{}();
    std::vector<Id> selected = SelectPacks(all, s, seed);
    switch (s.kind) {
      case ReadDataSubset::Kind::kAll:
        Phase("read all data");
        break;
      case ReadDataSubset::Kind::kBucket:
        Phase("read group #" + std::to_string(s.n) + " of " + std::to_string(selected.size()) +
              " data packs (out of total " + std::to_string(all.size()) + " packs in " +
              std::to_string(s.t) + " groups)");
        break;
      case ReadDataSubset::Kind::kPercent: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "read %.1f%% of data packs", s.percent);
        Phase(buf);
        break;
      }
      case ReadDataSubset::Kind::kBytes:
        Phase("read " + std::to_string(s.bytes) + " bytes of data packs");
        break;
    }
    std::vector<Id> todo;
    uint64_t already = 0;
    for (const Id& id : selected) {
      if (packs_.at(id).verified) {
        ++already;  // a tree pack, read whole and verified by the walk
      } else {
        todo.push_back(id);
      }
    }
    std::atomic<uint64_t> done{already};
    uint64_t total = selected.size();
    Progress(already, total, "packs");
    std::vector<PackVerdict> verdicts(todo.size());
    ParallelFor(todo.size(), threads_, [&](size_t i) {
      if (opt_.stop.stop_requested()) return;
      const Id& id = todo[i];
      const PackInfo& info = packs_.at(id);
      ObjectHandle h = Handle(ObjectType::kData, id);
      PackReader read = [&](uint64_t off, MutableByteView out) -> Result<void> {
        HALLEY_RETURN_IF_ERROR(store_.ReadAt(h, off, out));
        bytes_read_ += out.size();
        return {};
      };
      verdicts[i] = WithRereads("pack " + id.Hex(), [&] {
        return VerifyPackOnce(key_, id, *info.size, info.blobs, read, opt_.stop);
      });
      {
        std::lock_guard lock(mu_);
        ++report_.packs_read;
      }
      Progress(++done, total, "packs");
    });
    HALLEY_RETURN_IF_ERROR(Stopped());
    for (size_t i = 0; i < todo.size(); ++i) {
      packs_.at(todo[i]).verified = true;
      RecordPackVerdict(todo[i], std::move(verdicts[i]));
    }
    return {};
  }

  Result<void> DeepHeaders() {
    HALLEY_RETURN_IF_ERROR(Stopped());
    std::vector<Id> todo;
    for (const auto& [id, info] : packs_) {
      if (info.size && !info.verified) todo.push_back(id);
    }
    Phase("deep verify: read the headers of " + std::to_string(todo.size()) + " data packs");
    std::atomic<uint64_t> done{0};
    std::vector<PackVerdict> verdicts(todo.size());
    ParallelFor(todo.size(), threads_, [&](size_t i) {
      if (opt_.stop.stop_requested()) return;
      const Id& id = todo[i];
      const PackInfo& info = packs_.at(id);
      verdicts[i] = WithRereads("pack " + id.Hex(), [&] {
        return HeaderOnce(store_, key_, id, *info.size, info.blobs, &bytes_read_);
      });
      Progress(++done, todo.size(), "pack headers");
    });
    HALLEY_RETURN_IF_ERROR(Stopped());
    for (size_t i = 0; i < todo.size(); ++i) {
      if (verdicts[i].errors.empty()) continue;
      // Header only: no blob is known to be damaged (restore reads blobs through the index),
      // the pack is (rebuild-index could not read it).
      if (!verdicts[i].inconsistent && !verdicts[i].read_error) {
        report_.suggest_rebuild_index = true;
      }
      RecordPackVerdict(todo[i], std::move(verdicts[i]));
    }
    return {};
  }

  struct BadBlob {
    Id pack;
    std::string why;
  };

  repo::Repository& repo_;
  storage::BlobStore& store_;
  const crypto::Key& key_;
  CheckOptions opt_;
  int threads_ = 3;
  TempDir temp_;

  std::mutex mu_;
  // Guarded by mu_ while threads run; the phases between use them from one thread.
  CheckReport report_;
  std::unordered_map<BlobKey, BadBlob, BlobKeyHash> bad_blobs_;
  std::map<Id, std::string> tree_cache_;        // pack -> its file in temp_
  std::map<Id, std::string> tree_pack_errors_;  // pack -> why it could not be read
  std::vector<std::pair<Id, PackVerdict>> verified_results_;
  std::optional<Error> fatal_;

  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> rereads_{0};

  std::map<Id, PackInfo> packs_;
  repo::Index index_;
  bool index_errors_ = false;
  std::set<Id> snapshot_files_;
  std::vector<std::pair<Id, Id>> roots_;  // snapshot, root tree
  std::map<Id, std::vector<std::string>> snapshot_damage_;
};

Result<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "not a number: \"" + std::string(s) + "\"");
  }
  return v;
}

}  // namespace

Result<ReadDataSubset> ParseReadDataSubset(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid --read-data-subset \"" + std::string(text) + "\": " + why);
  };
  ReadDataSubset s;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    auto n = ParseUint(text.substr(0, slash));
    auto t = ParseUint(text.substr(slash + 1));
    if (!n || !t) return bad("expected n/t");
    if (*t < 1 || *t > 256) return bad("t must be between 1 and 256");
    if (*n < 1 || *n > *t) return bad("n must be between 1 and t");
    s.kind = ReadDataSubset::Kind::kBucket;
    s.n = static_cast<uint32_t>(*n);
    s.t = static_cast<uint32_t>(*t);
    return s;
  }
  if (!text.empty() && text.back() == '%') {
    std::string num(text.substr(0, text.size() - 1));
    char* end = nullptr;
    double p = std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size() || !(p > 0) || p > 100) {
      return bad("the percentage must be above 0 and at most 100");
    }
    s.kind = ReadDataSubset::Kind::kPercent;
    s.percent = p;
    return s;
  }
  std::string_view digits = text;
  uint64_t mult = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        mult = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        mult = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        mult = uint64_t{1} << 30;
        break;
      case 't':
      case 'T':
        mult = uint64_t{1} << 40;
        break;
      default:
        break;
    }
    if (mult != 1) digits.remove_suffix(1);
  }
  auto v = ParseUint(digits);
  if (!v || *v == 0) return bad("expected n/t, a percentage or a size such as 500M");
  if (*v > UINT64_MAX / mult) return bad("size too large");
  s.kind = ReadDataSubset::Kind::kBytes;
  s.bytes = *v * mult;
  return s;
}

std::vector<Id> SelectPacks(const std::map<Id, uint64_t>& packs, const ReadDataSubset& subset,
                            uint64_t seed) {
  std::vector<Id> out;
  switch (subset.kind) {
    case ReadDataSubset::Kind::kAll:
      for (const auto& [id, size] : packs) out.push_back(id);
      return out;
    case ReadDataSubset::Kind::kBucket:
      for (const auto& [id, size] : packs) {
        if (id.bytes[0] % subset.t == subset.n - 1) out.push_back(id);
      }
      return out;
    case ReadDataSubset::Kind::kPercent:
    case ReadDataSubset::Kind::kBytes:
      break;
  }
  std::vector<Id> all;
  uint64_t total = 0;
  for (const auto& [id, size] : packs) {
    all.push_back(id);
    total += size;
  }
  if (all.empty()) return out;
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  if (subset.kind == ReadDataSubset::Kind::kPercent) {
    auto n =
        static_cast<size_t>(std::floor(static_cast<double>(all.size()) * subset.percent / 100));
    n = std::clamp<size_t>(n, 1, all.size());
    out.assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
  } else {
    uint64_t sum = 0;
    for (const Id& id : all) {
      if (!out.empty() && sum >= std::min(subset.bytes, total)) break;
      out.push_back(id);
      sum += packs.at(id);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

Result<std::vector<CheckMessage>> CheckKeyFilesCounted(storage::BlobStore& store,
                                                       std::atomic<uint64_t>* bytes_read,
                                                       std::atomic<uint64_t>* rereads) {
  std::vector<std::string> names;
  HALLEY_RETURN_IF_ERROR(store.List(ObjectType::kKey, [&](const storage::ObjectInfo& i) {
    names.push_back(i.name);
    return Result<void>{};
  }));
  std::sort(names.begin(), names.end());
  std::vector<CheckMessage> out;
  for (const auto& name : names) {
    ObjectHandle h{ObjectType::kKey, name};
    std::string path = h.Path();
    WholeRead r = ReadWhole(store, h, bytes_read, rereads, {});
    if (r.outcome == WholeRead::Outcome::kUnreadable) {
      out.push_back(
          {"key file " + path + " cannot be read: " + r.error.Message(), std::nullopt, ""});
      continue;
    }
    if (r.outcome == WholeRead::Outcome::kDamaged) {
      out.push_back(
          {"key file " + path + " is damaged: hash mismatch: it has SHA-256 " + r.got.Hex(),
           std::nullopt, path});
      continue;
    }
    auto kf = repo::DecodeKeyFile(AsString(r.data));
    if (!kf && kf.error().Code() != ErrorCode::kNotSupported) {
      out.push_back(
          {"key file " + path + " is damaged: " + kf.error().Message(), std::nullopt, path});
    }
  }
  return out;
}

}  // namespace

Result<std::vector<CheckMessage>> CheckKeyFiles(storage::BlobStore& store) {
  return CheckKeyFilesCounted(store, nullptr, nullptr);
}

Result<CheckReport> Check(repo::Repository& repo, const CheckOptions& options) {
  Checker c(repo, options);
  return c.Run();
}

}  // namespace halley::engine
