// SPDX-License-Identifier: Apache-2.0
#include "repo/repository.h"

#include <algorithm>
#include <atomic>
#include <future>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "repo/compress.h"

namespace halley::repo {

using storage::ObjectHandle;
using storage::ObjectType;

namespace {

// Largest unpacked file we accept (index files stay below ~8 MiB; snapshots are small).
constexpr size_t kMaxUnpackedSize = size_t{512} << 20;

int Level(Compression c) { return c == Compression::kMax ? 19 : kDefaultCompressionLevel; }

ObjectHandle Handle(ObjectType type, const Id& id) { return {type, id.Hex()}; }

// "auto" skips compressing a large data blob when four slices spread across it (at 0, 1/4, 1/2
// and 3/4) all fail to shrink at zstd's fastest level: media, archives and encrypted files,
// which zstd -3 would scan in full to gain nothing. A compressible region a quarter of the
// blob plus a slice long always covers a whole slice, so mixed content is still compressed.
bool LooksIncompressible(ByteView data, MutableByteView scratch) {
  constexpr size_t kSlice = 16 << 10;
  if (data.size() < 16 * kSlice) return false;
  for (size_t q = 0; q < 4; ++q) {
    ByteView slice = data.subspan(data.size() / 4 * q, kSlice);
    if (CompressInto(slice, 1, scratch) < kSlice - kSlice / 64) return false;
  }
  return true;
}

}  // namespace

std::string ShortHandle(const ObjectHandle& h) {
  if (h.type == ObjectType::kConfig) return "<config>";
  return "<" + std::string(storage::ObjectTypeDir(h.type)) + "/" + h.name.substr(0, 10) + ">";
}

namespace {

// Per-thread scratch buffers for the blob hot path, so that saving a blob allocates nothing
// once the buffers have grown.
struct Scratch {
  Bytes compressed;
  Bytes sealed;
};
Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

Repository::Repository(storage::BlobStore& store, Config config, crypto::Key key, Id key_id,
                       RepositoryOptions options)
    : store_(store),
      config_(std::move(config)),
      key_(key),
      key_id_(key_id),
      options_(options),
      last_index_write_(std::chrono::steady_clock::now()) {
  uint64_t seed;
  crypto::RandomBytes(MutableByteView(reinterpret_cast<uint8_t*>(&seed), sizeof seed));
  rng_.seed(seed);
  for (size_t i = 0; i < std::max<size_t>(1, options_.open_data_packs); ++i) {
    data_packs_.push_back(std::make_unique<OpenPack>());
  }
  tree_packs_.push_back(std::make_unique<OpenPack>());
  StartUploaders();
}

Repository::~Repository() {
  StopUploaders();
  SecureZero(&key_, sizeof key_);
}

Result<std::unique_ptr<Repository>> Repository::Init(storage::BlobStore& store,
                                                     std::string_view password,
                                                     const InitOptions& init,
                                                     RepositoryOptions options) {
  auto existing = store.Stat(ObjectHandle::Config());
  if (existing) {
    return Fail(ErrorCode::kAlreadyExists, "a vault already exists at " + store.Location());
  }
  if (existing.error().Code() != ErrorCode::kNotFound) return Fail(existing.error());
  HALLEY_RETURN_IF_ERROR(store.Create());

  crypto::Key master = init.master ? *init.master : crypto::Key::Random();
  Config config = init.config ? *init.config : Config::New();
  KeyFile kf =
      NewKeyFile(master, password, init.kdf, Time::FromTimePoint(std::chrono::system_clock::now()),
                 init.username, init.hostname);
  std::string kf_json = EncodeKeyFile(kf);
  Id key_id = crypto::Sha256(AsBytes(kf_json));
  // Key file first: a config without a key would be a vault nobody can open.
  HALLEY_RETURN_IF_ERROR(store.Put(Handle(ObjectType::kKey, key_id), AsBytes(kf_json)));
  std::string cfg = EncodeConfig(config);
  Bytes sealed = crypto::Seal(master, AsBytes(cfg));
  if (auto put = store.Put(ObjectHandle::Config(), sealed); !put) {
    if (put.error().Code() != ErrorCode::kAlreadyExists) return Fail(put.error());
    auto stored = store.Get(ObjectHandle::Config());
    if (!stored) return Fail(put.error());  // unknown whose config it is: keep our key
    if (*stored != sealed) {
      // Another Init won the race since the check above (two devices creating a managed
      // vault at once). Our key file would open with the same password but wrap a master key
      // nothing uses, and could be tried first: remove it.
      (void)store.Remove(Handle(ObjectType::kKey, key_id));
      return Fail(put.error());
    }
    // Our own config, stored by an earlier attempt whose reply was lost.
  }
  return std::unique_ptr<Repository>(
      new Repository(store, std::move(config), master, key_id, options));
}

Result<std::unique_ptr<Repository>> Repository::Open(storage::BlobStore& store,
                                                     std::string_view password,
                                                     RepositoryOptions options) {
  auto cfg_raw = store.Get(ObjectHandle::Config());
  if (!cfg_raw) {
    if (cfg_raw.error().Code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound,
                  "no vault found at " + store.Location() + " (it has no config file)");
    }
    return Fail(cfg_raw.error().WithContext("reading config"));
  }
  std::vector<storage::ObjectInfo> keys;
  HALLEY_RETURN_IF_ERROR(store.List(ObjectType::kKey, [&](const storage::ObjectInfo& info) {
    keys.push_back(info);
    return Result<void>{};
  }));
  if (keys.empty()) {
    return Fail(ErrorCode::kUnauthenticated, "vault at " + store.Location() + " has no key files");
  }
  // Cheap key files (managed vaults) first, then in name order; stop at the first that opens.
  std::optional<crypto::Key> master;
  Id key_id;
  std::optional<Error> last_corruption;
  size_t tried = 0;
  for (const auto& info : keys) {
    if (info.size > (1 << 20)) continue;
    auto raw = store.Get({ObjectType::kKey, info.name});
    if (!raw) return Fail(raw.error().WithContext("reading key " + info.name.substr(0, 8)));
    auto kf = DecodeKeyFile(AsString(*raw));
    if (!kf) {
      last_corruption = kf.error().WithContext("key " + info.name.substr(0, 8));
      continue;
    }
    ++tried;
    auto k = OpenKeyFile(*kf, password);
    if (k) {
      master = *k;
      key_id = *Id::FromHex(info.name);
      break;
    }
    if (k.error().Code() != ErrorCode::kUnauthenticated) last_corruption = k.error();
    if (tried >= 20) break;  // as restic (#3776): bound the scrypt work a wrong password costs
  }
  if (!master) {
    if (tried == 0 && last_corruption) return Fail(*last_corruption);
    return Fail(ErrorCode::kUnauthenticated, "wrong password or no key found");
  }
  auto cfg_plain = crypto::Open(*master, *cfg_raw);
  if (!cfg_plain) return Fail(cfg_plain.error().WithContext("config"));
  auto config = DecodeConfig(AsString(*cfg_plain));
  if (!config) return Fail(config.error().WithContext("config"));
  return std::unique_ptr<Repository>(
      new Repository(store, std::move(*config), *master, key_id, options));
}

Result<Id> Repository::AddKey(std::string_view password, ScryptParams params, std::string username,
                              std::string hostname) {
  KeyFile kf =
      NewKeyFile(key_, password, params, Time::FromTimePoint(std::chrono::system_clock::now()),
                 std::move(username), std::move(hostname));
  std::string json = EncodeKeyFile(kf);
  Id id = crypto::Sha256(AsBytes(json));
  HALLEY_RETURN_IF_ERROR(store_.Put(Handle(ObjectType::kKey, id), AsBytes(json)));
  return id;
}

Result<Bytes> Repository::LoadRaw(const ObjectHandle& h) {
  HALLEY_ASSIGN_OR_RETURN(Bytes data, store_.Get(h));
  if (h.type != ObjectType::kConfig) {
    Id want = *Id::FromHex(h.name);
    Id got = crypto::Sha256(data);
    if (got != want) {
      return Fail(ErrorCode::kCorruption,
                  "hash mismatch: " + h.Path() + " has SHA-256 " + got.Hex());
    }
  }
  return data;
}

Result<Id> Repository::SaveUnpacked(ObjectType type, std::string_view plaintext) {
  Bytes payload;
  if (config_.version >= 2) {
    payload.push_back(2);
    CompressTo(AsBytes(plaintext), kDefaultCompressionLevel, payload);
  } else {
    payload = ToBytes(plaintext);
  }
  Bytes sealed = crypto::Seal(key_, payload);
  // Verify before upload: open, decompress and compare (restic does the same since #4681), in
  // slices rather than into copies of files that reach tens of megabytes.
  if (!crypto::OpensTo(key_, sealed, payload)) {
    return Fail(ErrorCode::kCorruption, "detected data corruption while saving a " +
                                            std::string(storage::ObjectTypeDir(type)) + " file");
  }
  if (config_.version >= 2 && !DecompressesTo(ByteView(payload).subspan(1), AsBytes(plaintext))) {
    return Fail(ErrorCode::kCorruption, "detected data corruption while compressing a " +
                                            std::string(storage::ObjectTypeDir(type)) + " file");
  }
  Id id = crypto::Sha256(sealed);
  auto put = store_.Put(Handle(type, id), sealed);
  if (!put && put.error().Code() != ErrorCode::kAlreadyExists) return Fail(put.error());
  return id;
}

Result<std::string> Repository::LoadUnpacked(ObjectType type, const Id& id) {
  ObjectHandle h = Handle(type, id);
  auto ctx = [&](const Error& e) { return e.WithContext("Load(" + ShortHandle(h) + ")"); };
  auto raw = LoadRaw(h);
  if (!raw) return Fail(ctx(raw.error()));
  auto plain = crypto::Open(key_, *raw);
  if (!plain) return Fail(ctx(plain.error()));
  if (plain->empty()) return Fail(ctx(Error(ErrorCode::kCorruption, "empty file")));
  uint8_t first = (*plain)[0];
  if (config_.version < 2 || first == '{' || first == '[') {
    return std::string(AsString(*plain));
  }
  if (first != 2) {
    return Fail(ctx(Error(ErrorCode::kCorruption,
                          "Decode: not supported encoding format " + std::to_string(first))));
  }
  // Straight into the string when the frame records its size (ours and restic's do): an
  // index file can be tens of megabytes, decoded on several threads at once.
  ByteView frame = ByteView(*plain).subspan(1);
  if (auto size = FrameContentSize(frame); size && *size <= kMaxUnpackedSize) {
    std::string out(*size, '\0');
    auto into = MutableByteView(reinterpret_cast<uint8_t*>(out.data()), out.size());
    if (auto r = DecompressExactTo(frame, into); !r) {
      return Fail(ctx(r.error().WithContext("Decode")));
    }
    return out;
  }
  auto data = DecompressBounded(frame, kMaxUnpackedSize);
  if (!data) return Fail(ctx(data.error().WithContext("Decode")));
  return std::string(AsString(*data));
}

Result<void> Repository::LoadIndex(const IndexFileFn& each) {
  std::vector<Id> ids;
  HALLEY_RETURN_IF_ERROR(store_.List(ObjectType::kIndex, [&](const storage::ObjectInfo& info) {
    if (auto id = Id::FromHex(info.name)) ids.push_back(*id);
    return Result<void>{};
  }));
  // Decrypting and parsing index files is CPU-bound: spread it over the cores.
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto work = [&] {
    while (true) {
      size_t i = next++;
      if (i >= ids.size()) return;
      auto text = LoadUnpacked(ObjectType::kIndex, ids[i]);
      Result<IndexFile> file =
          text ? DecodeIndexFile(*text) : Result<IndexFile>(Fail(text.error()));
      if (!file) {
        std::lock_guard lock(mu);
        if (!first_error) {
          first_error =
              text ? file.error().WithContext(
                         "Load(" + ShortHandle(Handle(ObjectType::kIndex, ids[i])) + "): Decode")
                   : file.error();
        }
        return;
      }
      for (const auto& p : file->packs) index_.AddPack(p.id, p.blobs);
      if (each) {
        std::lock_guard lock(mu);
        each(ids[i], std::move(*file));
      }
    }
  };
  unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (first_error) return Fail(*first_error);
  return {};
}

Result<void> Repository::ReloadIndex(const IndexFileFn& each) {
  index_.Clear();
  return LoadIndex(each);
}

Result<ByteView> Repository::DecodeBlobInto(const Id& id, ByteView sealed,
                                            uint32_t uncompressed_length,
                                            DecodeScratch& scratch) const {
  if (sealed.size() < crypto::kSealOverhead) {
    return Fail(ErrorCode::kCorruption, "ciphertext too short");
  }
  const size_t n = sealed.size() - crypto::kSealOverhead;
  if (scratch.opened.size() < n) scratch.opened.resize(n);
  HALLEY_RETURN_IF_ERROR(crypto::OpenTo(key_, sealed, scratch.opened.data()));
  ByteView plain = ByteView(scratch.opened).first(n);
  if (uncompressed_length != 0) {
    if (scratch.plain.size() < uncompressed_length) scratch.plain.resize(uncompressed_length);
    MutableByteView out = MutableByteView(scratch.plain).first(uncompressed_length);
    HALLEY_RETURN_IF_ERROR(DecompressExactTo(plain, out));
    plain = out;
  }
  Id got = crypto::Sha256(plain);
  if (got != id) {
    return Fail(ErrorCode::kCorruption,
                "hash mismatch: blob " + id.Short() + " has hash " + got.Short());
  }
  return plain;
}

Result<Bytes> Repository::DecodeBlob(const Id& id, ByteView sealed,
                                     uint32_t uncompressed_length) const {
  DecodeScratch scratch;
  HALLEY_ASSIGN_OR_RETURN(ByteView plain, DecodeBlobInto(id, sealed, uncompressed_length, scratch));
  if (uncompressed_length == 0) {
    scratch.opened.resize(plain.size());
    return std::move(scratch.opened);
  }
  scratch.plain.resize(plain.size());
  return std::move(scratch.plain);
}

Result<Bytes> Repository::LoadBlob(BlobType type, const Id& id) {
  auto loc = index_.Lookup(type, id);
  if (!loc) {
    return Fail(ErrorCode::kNotFound,
                std::string(BlobTypeName(type)) + " blob " + id.Short() + " not found in index");
  }
  auto ctx = [&](const Error& e) {
    return e.WithContext("loading " + std::string(BlobTypeName(type)) + " blob " + id.Short() +
                         " from pack " + loc->pack.Short());
  };
  auto sealed = store_.Get({ObjectType::kData, loc->pack.Hex()}, loc->offset, loc->length);
  if (!sealed) return Fail(ctx(sealed.error()));
  auto plain = DecodeBlob(id, *sealed, loc->uncompressed_length);
  if (!plain) return Fail(ctx(plain.error()));
  return plain;
}

size_t Repository::TargetPackSize(BlobType type) const {
  // Tree packs stay smaller so that tree-only reads (check, deep verify) fetch less.
  return type == BlobType::kTree ? std::min<size_t>(options_.pack_size, 4 << 20)
                                 : options_.pack_size;
}

Result<bool> Repository::SaveBlob(BlobType type, const Id& id, ByteView plaintext,
                                  bool store_duplicate) {
  HALLEY_RETURN_IF_ERROR(FirstError());
  {
    std::lock_guard lock(pending_mu_);
    auto& pending = type == BlobType::kTree ? pending_trees_ : pending_data_;
    if (pending.count(id) || (!store_duplicate && index_.Has(type, id))) return false;
    pending.insert(id);
  }
  Scratch& s = ThreadScratch();
  uint32_t uncompressed_length = 0;
  ByteView payload = plaintext;
  if (options_.compression != Compression::kOff || type == BlobType::kTree) {
    // Scratch buffers only grow: resizing a cleared vector would zero it for every blob.
    size_t bound = CompressBound(plaintext.size());
    if (s.compressed.size() < bound) s.compressed.resize(bound);
    size_t n = type == BlobType::kData && options_.compression == Compression::kAuto &&
                       LooksIncompressible(plaintext, s.compressed)
                   ? plaintext.size()
                   : CompressInto(plaintext, Level(options_.compression), s.compressed);
    // Incompressible data blobs are stored as they are (restic reads both forms); a blob of
    // length 0 can never be marked compressed.
    if ((type == BlobType::kTree || n < plaintext.size()) && !plaintext.empty()) {
      payload = ByteView(s.compressed).first(n);
      uncompressed_length = static_cast<uint32_t>(plaintext.size());
    }
  }
  const size_t sealed_size = payload.size() + crypto::kSealOverhead;
  if (s.sealed.size() < sealed_size) s.sealed.resize(sealed_size);
  ByteView sealed = ByteView(s.sealed).first(sealed_size);
  crypto::SealTo(key_, payload, s.sealed.data());

  // Verify before upload: decrypt, decompress and compare with what we were given.
  bool ok = crypto::OpensTo(key_, sealed, payload) &&
            (uncompressed_length == 0 || DecompressesTo(payload, plaintext));
  if (!ok) {
    Error e(ErrorCode::kCorruption,
            "detected data corruption while saving blob " + id.Short() + ": verification failed");
    SetError(e);
    return Fail(e);
  }

  auto& packs = type == BlobType::kTree ? tree_packs_ : data_packs_;
  size_t slot = 0;
  if (packs.size() > 1) {
    std::lock_guard lock(rng_mu_);
    slot = std::uniform_int_distribution<size_t>(0, packs.size() - 1)(rng_);
  }
  std::unique_ptr<PackWriter> full;
  {
    OpenPack& p = *packs[slot];
    std::lock_guard lock(p.mu);
    auto added = [&]() -> Result<void> {
      if (!p.writer) {
        HALLEY_ASSIGN_OR_RETURN(
            auto out, store_.NewWriter(ObjectType::kData, TargetPackSize(type) + (1 << 20)));
        p.writer = std::make_unique<PackWriter>(type, std::move(out));
      }
      return p.writer->Add(id, sealed, uncompressed_length);
    }();
    if (!added) {
      p.writer.reset();  // its blobs are lost with it: fail the whole run
      Error e = added.error().WithContext("writing a pack");
      SetError(e);
      return Fail(e);
    }
    if (p.writer->Size() >= TargetPackSize(type) || p.writer->Count() >= kIndexFileBlobs) {
      full = std::move(p.writer);
    }
  }
  {
    std::lock_guard lock(upload_mu_);
    (type == BlobType::kTree ? stats_.tree_blobs : stats_.data_blobs)++;
    stats_.data_added += plaintext.size();
    stats_.data_added_packed += sealed_size;
  }
  if (full) HALLEY_RETURN_IF_ERROR(Enqueue(std::move(full)));
  return true;
}

Result<void> Repository::Enqueue(std::unique_ptr<PackWriter> writer) {
  BlobType type = writer->Type();
  auto finished = writer->Finish(key_);
  if (!finished) {
    SetError(finished.error());
    return Fail(finished.error());
  }
  std::unique_lock lock(upload_mu_);
  // Backpressure: at most one pack waiting per uploader, which bounds memory.
  upload_cv_.wait(
      lock, [&] { return error_ || queue_.size() < static_cast<size_t>(options_.upload_threads); });
  if (error_) return Fail(*error_);
  queue_.push_back(Upload{std::move(*finished), type});
  ++in_flight_;
  upload_cv_.notify_all();
  return {};
}

void Repository::StartUploaders() {
  for (int i = 0; i < std::max(1, options_.upload_threads); ++i) {
    uploaders_.emplace_back([this] { UploadLoop(); });
  }
}

void Repository::StopUploaders() {
  {
    std::lock_guard lock(upload_mu_);
    stopping_ = true;
  }
  upload_cv_.notify_all();
  for (auto& t : uploaders_) t.join();
  uploaders_.clear();
}

void Repository::UploadLoop() {
  while (true) {
    Upload up;
    {
      std::unique_lock lock(upload_mu_);
      upload_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      up = std::move(queue_.front());
      queue_.pop_front();
      upload_cv_.notify_all();
    }
    bool failed;
    {
      std::lock_guard lock(upload_mu_);
      failed = error_.has_value();
    }
    Result<void> put =
        failed ? Result<void>{} : up.pack.out->Commit(Handle(ObjectType::kData, up.pack.id));
    if (!put && put.error().Code() == ErrorCode::kAlreadyExists) put = {};  // same name, same bytes
    if (!put) SetError(put.error().WithContext("saving pack " + up.pack.id.Short()));
    up.pack.out.reset();  // an uncommitted temporary file goes now
    std::vector<IndexPack> to_write;
    if (put && !failed) {
      index_.AddPack(up.pack.id, up.pack.blobs);
      {
        std::lock_guard lock(pending_mu_);
        auto& pending = up.type == BlobType::kTree ? pending_trees_ : pending_data_;
        for (const auto& b : up.pack.blobs) pending.erase(b.id);
      }
      std::lock_guard lock(upload_mu_);
      ++stats_.packs;
      written_packs_.push_back(up.pack.id);
      unindexed_blobs_ += up.pack.blobs.size();
      unindexed_.push_back(IndexPack{up.pack.id, std::move(up.pack.blobs)});
      auto now = std::chrono::steady_clock::now();
      if (unindexed_blobs_ >= options_.index_flush_blobs ||
          now - last_index_write_ >= options_.index_flush_interval) {
        to_write.swap(unindexed_);
        unindexed_blobs_ = 0;
        last_index_write_ = now;
      }
    }
    if (!to_write.empty()) {
      auto w = WriteIndexFiles(std::move(to_write));
      if (!w) SetError(w.error());
    }
    std::lock_guard lock(upload_mu_);
    --in_flight_;
    upload_cv_.notify_all();
  }
}

Result<size_t> Repository::WriteIndexFiles(std::vector<IndexPack> packs) {
  // An index file is held in memory as JSON, compressed and sealed: upload threads finishing
  // packs together each held one (with 1M small files, over half the peak heap).
  std::lock_guard one_at_a_time(index_write_mu_);
  std::sort(packs.begin(), packs.end(),
            [](const IndexPack& a, const IndexPack& b) { return a.id < b.id; });
  IndexFile file;
  size_t blobs = 0, written = 0;
  auto flush = [&]() -> Result<void> {
    if (file.packs.empty()) return {};
    auto id = SaveUnpacked(ObjectType::kIndex, EncodeIndexFile(file));
    if (!id) return Fail(id.error().WithContext("saving index"));
    ++written;
    file.packs.clear();
    blobs = 0;
    return {};
  };
  for (auto& p : packs) {
    if (blobs + p.blobs.size() > kIndexFileBlobs) HALLEY_RETURN_IF_ERROR(flush());
    blobs += p.blobs.size();
    file.packs.push_back(std::move(p));
  }
  HALLEY_RETURN_IF_ERROR(flush());
  return written;
}

Result<void> Repository::Flush() {
  for (auto* packs : {&data_packs_, &tree_packs_}) {
    for (auto& p : *packs) {
      std::unique_ptr<PackWriter> w;
      {
        std::lock_guard lock(p->mu);
        if (p->writer && p->writer->Count() > 0) w = std::move(p->writer);
        p->writer.reset();
      }
      if (w) HALLEY_RETURN_IF_ERROR(Enqueue(std::move(w)));
    }
  }
  std::vector<IndexPack> to_write;
  {
    std::unique_lock lock(upload_mu_);
    upload_cv_.wait(lock, [&] { return in_flight_ == 0; });
    if (error_) return Fail(*error_);
    to_write.swap(unindexed_);
    unindexed_blobs_ = 0;
    last_index_write_ = std::chrono::steady_clock::now();
  }
  if (!to_write.empty()) HALLEY_RETURN_IF_ERROR(WriteIndexFiles(std::move(to_write)));
  return {};
}

Result<void> Repository::FirstError() const {
  std::lock_guard lock(upload_mu_);
  if (error_) return Fail(*error_);
  return {};
}

void Repository::SetError(const Error& e) {
  std::lock_guard lock(upload_mu_);
  if (!error_) error_ = e;
  upload_cv_.notify_all();
}

std::vector<Id> Repository::WrittenPacks(size_t from) const {
  std::lock_guard lock(upload_mu_);
  if (from >= written_packs_.size()) return {};
  return std::vector<Id>(written_packs_.begin() + static_cast<std::ptrdiff_t>(from),
                         written_packs_.end());
}

WriteStats Repository::Stats() const {
  std::lock_guard lock(upload_mu_);
  return stats_;
}

}  // namespace halley::repo
