// SPDX-License-Identifier: Apache-2.0
//
// Micro-benchmarks of the per-byte and per-blob building blocks of a backup: chunking, SHA-256,
// seal/open, zstd, pack assembly, index lookups and the whole per-blob save path. bench/micro/run
// runs them next to the machine's ceilings (openssl speed, zstd -b) and writes the table into
// docs/performance.md. They measure; they never fail (no test asserts on speed).
//
// The BM_Ceiling_* benchmarks measure the machine, not our code, where no command-line tool
// does: OpenSSL's Poly1305 alone (openssl 3.0's `speed` has no Poly1305), and random accesses to
// memory (what an index lookup in a table much larger than the caches pays).
//
// Every input is deterministic (SplitMix64 with fixed seeds), so two runs time the same bytes.
// Besides Google Benchmark's flags the binary takes
//   --write-text-sample=PATH     writes the 1 MiB text-like blob the zstd benchmarks compress
//   --write-random-sample=PATH   writes the 1 MiB random blob
// and exits, so that `zstd -b` can measure its ceiling on the very same bytes.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/id.h"
#include "chunker/gear.h"
#include "chunker/rabin.h"
#include "chunker/test_input.h"
#include "crypto/hash.h"
#include "crypto/seal.h"
#include "repo/compress.h"
#include "repo/index.h"
#include "repo/key_file.h"
#include "repo/pack.h"
#include "repo/repository.h"
#include "storage/mem_blob_store.h"

namespace halley {
namespace {

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kBlobSize = 1 * kMiB;
constexpr size_t kChunkerInputSize = 64 * kMiB;
constexpr uint64_t kZstdSeed = 5;  // of the blobs the zstd benchmarks and samples use

// ---------------------------------------------------------------------------------------------
// Deterministic inputs.

using chunker::testing::SplitMix64;  // the chunker tests' generator

Bytes RandomBytes(uint64_t seed, size_t n) {
  SplitMix64 rng(seed);
  Bytes out(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t word = rng.Next();
    for (size_t k = i; k < i + 8 && k < n; ++k, word >>= 8) out[k] = static_cast<uint8_t>(word);
  }
  return out;
}

Id RandomId(SplitMix64& rng) {
  Id id;
  for (size_t i = 0; i < id.bytes.size(); i += 8) {
    uint64_t word = rng.Next();
    for (size_t k = i; k < i + 8; ++k, word >>= 8) id.bytes[k] = static_cast<uint8_t>(word);
  }
  return id;
}

// Text-like bytes that compress about as well as prose or source code: words of 2 to 10
// lower-case letters from a fixed vocabulary of 4096, drawn with a heavy skew towards the first
// ones (index = 4096 u^3), separated by spaces, with commas, capitalised sentences and line
// breaks. The vocabulary is the same for every seed; the seed picks the word sequence.
Bytes TextLike(uint64_t seed, size_t n) {
  constexpr size_t kVocabulary = 4096;
  static const std::vector<std::string> words = [] {
    SplitMix64 rng(0x766f636162);  // "vocab"
    std::vector<std::string> w(kVocabulary);
    for (auto& word : w) {
      const size_t length = 2 + rng.Next() % 9;
      for (size_t i = 0; i < length; ++i) word.push_back(static_cast<char>('a' + rng.Next() % 26));
    }
    return w;
  }();
  SplitMix64 rng(seed);
  std::string text;
  text.reserve(n + 16);
  bool sentence_start = true;
  size_t line_length = 0;
  while (text.size() < n) {
    const double u = rng.NextUnit();
    std::string word = words[static_cast<size_t>(static_cast<double>(kVocabulary) * u * u * u)];
    if (sentence_start) word[0] = static_cast<char>(word[0] - 'a' + 'A');
    text += word;
    line_length += word.size();
    const uint64_t r = rng.Next() % 100;
    sentence_start = r < 8;
    if (r < 8) {
      text += '.';
    } else if (r < 14) {
      text += ',';
    }
    if (line_length > 72) {
      text += '\n';
      line_length = 0;
    } else {
      text += ' ';
      ++line_length;
    }
  }
  text.resize(n);
  return ToBytes(text);
}

enum class Data { kText, kRandom };

Bytes MakeBlob(Data kind, uint64_t seed, size_t n) {
  return kind == Data::kText ? TextLike(seed, n) : RandomBytes(seed, n);
}

// A fixed (valid) master key, so that runs do not depend on the random generator.
crypto::Key BenchKey() {
  crypto::Key key;
  for (size_t i = 0; i < key.encrypt.size(); ++i) key.encrypt[i] = static_cast<uint8_t>(i + 1);
  for (size_t i = 0; i < key.mac_k.size(); ++i) key.mac_k[i] = static_cast<uint8_t>(i + 33);
  for (size_t i = 0; i < key.mac_r.size(); ++i) key.mac_r[i] = static_cast<uint8_t>(i + 49);
  HALLEY_CHECK(key.Valid());
  return key;
}

template <class T>
T Must(Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "halley_micro: %s\n", r.error().Message().c_str());
    HALLEY_CHECK(false);
  }
  return std::move(*r);
}
void Must(Result<void> r) {
  if (!r) {
    std::fprintf(stderr, "halley_micro: %s\n", r.error().Message().c_str());
    HALLEY_CHECK(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Chunkers: FindBoundary over the whole 64 MiB buffer, as the archiver feeds a file.

const Bytes& ChunkerInput() {
  static const Bytes input = RandomBytes(0x48616c6c6579, kChunkerInputSize);  // "Halley"
  return input;
}

void RunChunker(benchmark::State& state, chunker::Chunker& chunker) {
  const Bytes& input = ChunkerInput();
  size_t chunks = 0;
  for (auto _ : state) {
    chunker.Reset();
    ByteView rest = input;
    while (auto cut = chunker.FindBoundary(rest)) {
      ++chunks;
      rest = rest.subspan(*cut);
    }
    ++chunks;  // the tail
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["mean_chunk_KiB"] =
      static_cast<double>(state.iterations() * input.size()) / static_cast<double>(chunks) / 1024;
}

void BM_ChunkerGear(benchmark::State& state) {
  chunker::GearTable table;
  SplitMix64 rng(1);
  for (uint64_t& entry : table) entry = rng.Next();
  auto gear = Must(chunker::GearChunker::Create(table));
  RunChunker(state, *gear);
}
BENCHMARK(BM_ChunkerGear)->Unit(benchmark::kMillisecond);

void BM_ChunkerRabin(benchmark::State& state) {
  auto rabin = Must(chunker::RabinChunker::Create(0x3a0a7835c416d5));  // from rabin_test.cc
  RunChunker(state, *rabin);
}
BENCHMARK(BM_ChunkerRabin)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Crypto on 1 MiB blocks.

void BM_Sha256(benchmark::State& state) {
  const Bytes block = RandomBytes(2, kBlobSize);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256(block));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.size()));
}
BENCHMARK(BM_Sha256)->Unit(benchmark::kMicrosecond);

void BM_Seal(benchmark::State& state) {
  const crypto::Key key = BenchKey();
  const Bytes plaintext = RandomBytes(3, kBlobSize);
  Bytes sealed(plaintext.size() + crypto::kSealOverhead);
  for (auto _ : state) {
    crypto::SealTo(key, plaintext, sealed.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plaintext.size()));
}
BENCHMARK(BM_Seal)->Unit(benchmark::kMicrosecond);

void BM_Open(benchmark::State& state) {
  const crypto::Key key = BenchKey();
  const Bytes plaintext = RandomBytes(4, kBlobSize);
  const Bytes sealed = crypto::Seal(key, plaintext);
  Bytes out(plaintext.size());
  for (auto _ : state) {
    Must(crypto::OpenTo(key, sealed, out.data()));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plaintext.size()));
}
BENCHMARK(BM_Open)->Unit(benchmark::kMicrosecond);

// The ceiling for seal and open beside AES-256-CTR (openssl speed): OpenSSL's Poly1305 over a
// 1 MiB message, one key per message as in Seal.
void BM_Ceiling_Poly1305(benchmark::State& state) {
  const Bytes message = RandomBytes(6, kBlobSize);
  uint8_t key[32];
  for (size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
  EVP_MAC* poly = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  HALLEY_CHECK(poly != nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(poly);
  HALLEY_CHECK(ctx != nullptr);
  uint8_t tag[16];
  for (auto _ : state) {
    size_t length = 0;
    HALLEY_CHECK(EVP_MAC_init(ctx, key, sizeof key, nullptr) == 1);
    HALLEY_CHECK(EVP_MAC_update(ctx, message.data(), message.size()) == 1);
    HALLEY_CHECK(EVP_MAC_final(ctx, tag, &length, sizeof tag) == 1);
    benchmark::DoNotOptimize(tag);
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(poly);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_Ceiling_Poly1305)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// zstd level 3 on 1 MiB blobs, text-like and random. Bytes are counted uncompressed both ways.

void BM_Compress(benchmark::State& state, Data kind) {
  const Bytes blob = MakeBlob(kind, kZstdSeed, kBlobSize);
  Bytes out;
  for (auto _ : state) {
    out.clear();
    repo::CompressTo(blob, repo::kDefaultCompressionLevel, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * blob.size()));
  state.counters["ratio"] = static_cast<double>(blob.size()) / static_cast<double>(out.size());
}
BENCHMARK_CAPTURE(BM_Compress, text, Data::kText)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Compress, random, Data::kRandom)->Unit(benchmark::kMicrosecond);

void BM_Decompress(benchmark::State& state, Data kind) {
  const Bytes blob = MakeBlob(kind, kZstdSeed, kBlobSize);
  const Bytes frame = repo::Compress(blob, repo::kDefaultCompressionLevel);
  Bytes out(blob.size());
  for (auto _ : state) {
    Must(repo::DecompressExactTo(frame, out));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * blob.size()));
}
BENCHMARK_CAPTURE(BM_Decompress, text, Data::kText)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decompress, random, Data::kRandom)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// PackWriter: sixteen 1 MiB sealed blobs (a default 16 MiB data pack), then Finish (seal and
// verify the header, finish the SHA-256 of the pack), through the ObjectWriter the store hands
// out: for a MemBlobStore the default one, which keeps the pack in memory. Not committed, so the
// store's own copy is not counted.

void BM_PackWriter(benchmark::State& state) {
  constexpr size_t kBlobs = 16;
  const crypto::Key key = BenchKey();
  std::vector<Id> ids;
  std::vector<Bytes> sealed;
  for (size_t i = 0; i < kBlobs; ++i) {
    const Bytes plaintext = RandomBytes(100 + i, kBlobSize);
    ids.push_back(crypto::Sha256(plaintext));
    sealed.push_back(crypto::Seal(key, plaintext));
  }
  storage::MemBlobStore store;
  for (auto _ : state) {
    repo::PackWriter writer(repo::BlobType::kData,
                            Must(store.NewWriter(storage::ObjectType::kData, 17 << 20)));
    for (size_t i = 0; i < kBlobs; ++i) Must(writer.Add(ids[i], sealed[i], 0));
    auto finished = Must(writer.Finish(key));
    benchmark::DoNotOptimize(finished.id);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBlobs * kBlobSize));
}
BENCHMARK(BM_PackWriter)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Index: 1M data blobs in 1000 packs, and the scale model of a 10 TB vault, 10M blobs (of
// 1 MiB on average) in 10,000 packs; lookups of present and absent IDs in random order.

// Resident set size of this process, from /proc/self/statm.
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0;
  uint64_t resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Bytes malloc has handed out and not taken back (heap and mmap'd blocks).
double HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

struct IndexFixture {
  static constexpr size_t kBlobsPerPack = 1000;
  static constexpr size_t kProbes = 1 << 20;  // absent IDs, cycled

  repo::Index index;
  std::vector<Id> present;   // every blob in the index, in insertion order
  std::vector<Id> shuffled;  // the same IDs in random order: the lookups read it sequentially
  std::vector<Id> absent;
  double rss_per_blob = 0;
  double heap_per_blob = 0;

  explicit IndexFixture(size_t packs) {
    const size_t blobs = packs * kBlobsPerPack;
    SplitMix64 rng(7);
    present.reserve(blobs);
    for (size_t i = 0; i < blobs; ++i) present.push_back(RandomId(rng));
    // Shuffled, so that successive lookups do not visit the index's nodes in the order they
    // were allocated (IDs are random, so the hash buckets are visited at random either way).
    shuffled = present;
    for (size_t i = blobs - 1; i > 0; --i) std::swap(shuffled[i], shuffled[rng.Next() % (i + 1)]);
    absent.reserve(kProbes);
    for (size_t i = 0; i < kProbes; ++i) absent.push_back(RandomId(rng));

    // Everything the benchmark itself holds is allocated and touched above, so the growth
    // below is the index's. Memory that other benchmarks freed would be reused without growing
    // the RSS: hand it back to the kernel first.
    malloc_trim(0);
    const double rss_before = ResidentBytes();
    const double heap_before = HeapBytes();
    std::vector<repo::PackedBlob> pack_blobs(kBlobsPerPack);
    for (size_t p = 0; p < packs; ++p) {
      uint32_t offset = 0;
      for (size_t b = 0; b < kBlobsPerPack; ++b) {
        repo::PackedBlob& blob = pack_blobs[b];
        blob.type = repo::BlobType::kData;
        blob.id = present[p * kBlobsPerPack + b];
        blob.offset = offset;
        blob.length = 16 * 1024 + 32;
        blob.uncompressed_length = 40 * 1024;
        offset += blob.length;
      }
      index.AddPack(RandomId(rng), pack_blobs);
    }
    pack_blobs = {};
    rss_per_blob = (ResidentBytes() - rss_before) / static_cast<double>(blobs);
    heap_per_blob = (HeapBytes() - heap_before) / static_cast<double>(blobs);
    HALLEY_CHECK(index.BlobCount(repo::BlobType::kData) == blobs);
  }
};

// Built once per size, on first use; never freed.
IndexFixture& Indexed(size_t packs) {
  static std::map<size_t, IndexFixture*> fixtures;
  IndexFixture*& f = fixtures[packs];
  if (f == nullptr) f = new IndexFixture(packs);
  return *f;
}

// One iteration = kBatch lookups, so that the loop's own cost is negligible; ns/op is
// 1e9 / items_per_second.
constexpr size_t kBatch = 1024;

// References for lookups in a table far larger than the caches: random accesses to a 64 MiB
// array. The array is a random cycle (Sattolo's algorithm), so that following it is a pointer
// chase: each load's address comes from the previous load, and the time per step is the latency
// of one access, which a lookup cannot beat on its own (bench/micro/run compares with it). Loads
// from independent random addresses overlap in the CPU: their time per access shows how far
// lookups issued back to back could go if nothing in them serialised the memory accesses.
const std::vector<uint32_t>& RandomCycle() {
  static const std::vector<uint32_t> next = [] {
    std::vector<uint32_t> n(64 * kMiB / sizeof(uint32_t));
    for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<uint32_t>(i);
    SplitMix64 rng(8);
    for (size_t i = n.size() - 1; i > 0; --i) std::swap(n[i], n[rng.Next() % i]);
    return n;
  }();
  return next;
}

void BM_Ceiling_MemoryLatency(benchmark::State& state) {
  const std::vector<uint32_t>& next = RandomCycle();
  uint32_t at = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) at = next[at];
    benchmark::DoNotOptimize(at);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_Ceiling_MemoryLatency)->Unit(benchmark::kMicrosecond);

void BM_Ceiling_MemoryRandomAccess(benchmark::State& state) {
  const std::vector<uint32_t>& table = RandomCycle();
  std::vector<uint32_t> where(1 << 20);  // read in order: the hardware prefetches it
  SplitMix64 rng(9);
  for (uint32_t& w : where) w = static_cast<uint32_t>(rng.Next() % table.size());
  size_t next = 0;
  uint32_t sum = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) sum += table[where[next + i]];
    next = (next + kBatch) % where.size();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_Ceiling_MemoryRandomAccess)->Unit(benchmark::kMicrosecond);

void BM_IndexLookupPresent(benchmark::State& state) {
  IndexFixture& f = Indexed(static_cast<size_t>(state.range(0)));
  size_t next = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      auto location = f.index.Lookup(repo::BlobType::kData, f.shuffled[next]);
      HALLEY_DCHECK(location.has_value());
      benchmark::DoNotOptimize(location);
      if (++next == f.shuffled.size()) next = 0;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["blobs"] = static_cast<double>(f.present.size());
  state.counters["bytes_per_blob"] = f.rss_per_blob;
  state.counters["heap_bytes_per_blob"] = f.heap_per_blob;
}
BENCHMARK(BM_IndexLookupPresent)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_IndexLookupAbsent(benchmark::State& state) {
  IndexFixture& f = Indexed(static_cast<size_t>(state.range(0)));
  size_t next = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      auto location = f.index.Lookup(repo::BlobType::kData, f.absent[next]);
      HALLEY_DCHECK(!location.has_value());
      benchmark::DoNotOptimize(location);
      if (++next == f.absent.size()) next = 0;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["blobs"] = static_cast<double>(f.present.size());
}
BENCHMARK(BM_IndexLookupAbsent)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// The per-blob save path end to end, in steady state: Repository::SaveBlob of a new 1 MiB blob
// (compress, seal, verify, add to a pack) into one long-lived vault on a MemBlobStore; full packs
// are finished and uploaded by the repository's background threads, which SaveBlob waits for
// when they fall behind. Wall-clock time, since the uploads run on other threads. Untimed: making
// each blob new (its first 8 bytes are a counter) and its ID, and dropping uploaded packs from the
// store now and then so that memory stays bounded.

void DropPacks(storage::MemBlobStore& store) {
  std::vector<std::string> names;
  Must(store.List(storage::ObjectType::kData, [&](const storage::ObjectInfo& info) {
    names.push_back(info.name);
    return Result<void>{};
  }));
  for (auto& name : names) Must(store.Remove({storage::ObjectType::kData, std::move(name)}));
}

void BM_SaveBlob(benchmark::State& state, Data kind) {
  repo::InitOptions init;
  init.kdf = repo::ScryptParams{1024, 8, 1};  // cheap: the KDF is not what is measured
  init.username = "bench";
  init.hostname = "bench";
  init.master = BenchKey();
  storage::MemBlobStore store;
  auto repository = Must(repo::Repository::Init(store, "bench", init));
  Bytes blob = MakeBlob(kind, 200, kBlobSize);
  uint64_t serial = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ++serial;
    std::memcpy(blob.data(), &serial, sizeof serial);
    const Id id = crypto::Sha256(blob);
    if (serial % 64 == 0) DropPacks(store);
    state.ResumeTiming();
    HALLEY_CHECK(Must(repository->SaveBlob(repo::BlobType::kData, id, blob)));
  }
  Must(repository->Flush());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBlobSize));
}
// At least 1 s, so that several packs are finished and uploaded while it is measured.
BENCHMARK_CAPTURE(BM_SaveBlob, text, Data::kText)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
BENCHMARK_CAPTURE(BM_SaveBlob, random, Data::kRandom)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// ---------------------------------------------------------------------------------------------

bool WriteSample(const std::string& path, Data kind) {
  const Bytes sample = MakeBlob(kind, kZstdSeed, kBlobSize);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(sample.data()),
            static_cast<std::streamsize>(sample.size()));
  out.close();
  if (!out) std::fprintf(stderr, "halley_micro: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace
}  // namespace halley

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Initialize() removed its own flags; what is left is ours (or a mistake).
  bool wrote = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    constexpr std::string_view kText = "--write-text-sample=";
    constexpr std::string_view kRandom = "--write-random-sample=";
    if (arg.starts_with(kText)) {
      if (!halley::WriteSample(std::string(arg.substr(kText.size())), halley::Data::kText)) {
        return 1;
      }
      wrote = true;
    } else if (arg.starts_with(kRandom)) {
      if (!halley::WriteSample(std::string(arg.substr(kRandom.size())), halley::Data::kRandom)) {
        return 1;
      }
      wrote = true;
    } else {
      std::fprintf(stderr, "halley_micro: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (wrote) return 0;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
