// A caching CPU allocator, installed in place of c10's default at addon load.
//
// Why: dispose() frees a tensor's memory at once, but the small native wrapper of its JS handle
// lives until V8's GC finaliser runs (from setImmediate in Node 20). In a synchronous loop glibc
// puts MB-sized blocks on the brk heap (its mmap threshold rises as blocks are freed), the small
// wrappers land between and inside the freed blocks, and the heap grows without bound (21 GB in a
// k-means++ seeding). Here blocks of kMinBlock bytes or more are mapped with mmap (never on the
// heap) and a freed one is kept for the next request of its size class, which also spares the
// page faults of fresh memory. Smaller blocks go to the allocator that was installed before.
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace adaseg {

namespace {

constexpr size_t kMinBlock = 64 * 1024;
constexpr size_t kMaxBlock = size_t(1) << 56;  // beyond any RAM: left to c10, whose error the tests expect
constexpr int kMinStepLog = 12;  // 4 KiB pages: mmap's alignment, a multiple of c10's 64 bytes

// Size classes: 8 per power of two (a block is at most 12.5% larger than asked; the untouched
// tail of a mapping costs no RAM until a larger request of the same class uses it).
size_t ClassSize(size_t n) {
  int lg = 63 - __builtin_clzll(n);
  size_t step = size_t(1) << std::max(lg - 3, kMinStepLog);
  return (n + step - 1) & ~(step - 1);
}

struct Block {
  void* ptr;
  size_t size;
  bool mapped;  // false: mmap failed and c10::alloc_cpu made it
};

void Release(const Block& b) {
  if (b.mapped) {
    munmap(b.ptr, b.size);
  } else {
    c10::free_cpu(b.ptr);
  }
}

void CachingDelete(void* ptr);

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* fallback, size_t limit) : fallback_(fallback), limit_(limit) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinBlock || n > kMaxBlock) return fallback_->allocate(n);
    void* p = Take(n);
    // data == context: raw_allocate() requires it.
    return {p, p, &CachingDelete, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_deallocate() may be handed blocks of the fallback allocator too (raw_allocate of a small
  // size, or memory allocated before the switch): Free() routes those back to it.
  c10::DeleterFnPtr raw_deleter() const override { return &CachingDelete; }

  void Free(void* ptr) const {
    std::vector<Block> release;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto it = live_.find(ptr);
      if (it == live_.end()) {
        lock.unlock();
        fallback_->raw_deleter()(ptr);
        return;
      }
      Block b = it->second;
      live_.erase(it);
      inUse_ -= b.size;
      if (b.size > limit_) {
        release.push_back(b);
      } else {
        // Least recently freed blocks go first.
        while (cached_ + b.size > limit_) {
          release.push_back(PopOldest());
          evictions_++;
        }
        lru_.push_back(b);
        byClass_[b.size].push_back(std::prev(lru_.end()));
        cached_ += b.size;
      }
    }
    for (const Block& b : release) Release(b);  // syscalls outside the lock
  }

  void EmptyCache() const {
    std::list<Block> release;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      release.swap(lru_);
      byClass_.clear();
      cached_ = 0;
    }
    for (const Block& b : release) Release(b);
  }

  Napi::Object Stats(Napi::Env env) const {
    std::unique_lock<std::mutex> lock(mutex_);
    double figures[] = {double(limit_),  double(kMinBlock),    double(cached_), double(lru_.size()), double(inUse_),
                        double(live_.size()), double(hits_), double(misses_), double(evictions_)};
    lock.unlock();
    Napi::Object out = Napi::Object::New(env);
    out.Set("enabled", Napi::Boolean::New(env, true));
    for (size_t i = 0; i < kStatNames.size(); i++) out.Set(kStatNames[i], Napi::Number::New(env, figures[i]));
    return out;
  }

  static constexpr std::array<const char*, 9> kStatNames = {"limitBytes", "minBlockBytes", "cachedBytes",
                                                            "cachedBlocks", "inUseBytes", "inUseBlocks",
                                                            "hits", "misses", "evictions"};

 private:
  void* Take(size_t n) const {
    size_t size = ClassSize(n);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = byClass_.find(size);
      if (it != byClass_.end() && !it->second.empty()) {
        // The most recently freed block of the class: its pages are the likeliest to be resident.
        auto node = it->second.back();
        it->second.pop_back();
        Block b = *node;
        lru_.erase(node);
        cached_ -= b.size;
        hits_++;
        inUse_ += b.size;
        live_.emplace(b.ptr, b);
        return b.ptr;
      }
      misses_++;
    }
    Block b{Map(size), size, true};
    if (b.ptr == nullptr) {
      EmptyCache();  // the cache may be what exhausts memory or mappings
      b.ptr = Map(size);
    }
    if (b.ptr == nullptr) {
      // Exactly n bytes: c10's usual out-of-memory error (naming n) if this fails too. Cached
      // under its own size, it is only reused by requests whose class is that size.
      b = Block{c10::alloc_cpu(n), n, false};
    }
    std::lock_guard<std::mutex> lock(mutex_);
    inUse_ += b.size;
    live_.emplace(b.ptr, b);
    return b.ptr;
  }

  static void* Map(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  // Removes the least recently freed block; its class list holds it first (both are in freeing order).
  Block PopOldest() const {
    Block b = lru_.front();
    auto& list = byClass_[b.size];
    list.erase(list.begin());
    lru_.pop_front();
    cached_ -= b.size;
    return b;
  }

  c10::Allocator* fallback_;
  size_t limit_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, Block> live_;  // blocks handed out, by address
  mutable std::list<Block> lru_;                   // cached blocks, least recently freed first
  mutable std::unordered_map<size_t, std::vector<std::list<Block>::iterator>> byClass_;
  mutable size_t cached_ = 0, inUse_ = 0;
  mutable uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

// Never destroyed: storages may be freed during process exit, after static destructors.
CachingCpuAllocator* instance = nullptr;

void CachingDelete(void* ptr) { instance->Free(ptr); }

// ADASEG_CPU_CACHE_BYTES (validated by src/native.ts before the addon loads), else the larger of
// 256 MiB and 1/8 of the RAM.
size_t CacheLimit() {
  const char* env = std::getenv("ADASEG_CPU_CACHE_BYTES");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (*end == '\0') return static_cast<size_t>(v);
  }
  size_t ram = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return std::max<size_t>(size_t(256) << 20, ram / 8);
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  if (instance != nullptr) instance->EmptyCache();
  return info.Env().Undefined();
}

Napi::Value CpuAllocatorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (instance != nullptr) return instance->Stats(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("enabled", Napi::Boolean::New(env, false));
  for (const char* key : CachingCpuAllocator::kStatNames) out.Set(key, Napi::Number::New(env, 0));
  return out;
}

}  // namespace

void InitAllocator(Napi::Env env, Napi::Object exports) {
  // Once per process: the allocator is global, while each worker thread loads the addon anew.
  // c10::SetCPUAllocator is not thread-safe, so it runs here, before any tensor op.
  static std::once_flag once;
  std::call_once(once, [] {
    size_t limit = CacheLimit();
    c10::Allocator* current = c10::GetCPUAllocator();
    if (limit == 0 || current == nullptr || current->raw_deleter() == nullptr) return;
    auto* caching = new CachingCpuAllocator(current, limit);
    c10::SetCPUAllocator(caching);
    if (c10::GetCPUAllocator() == caching) {
      instance = caching;
    } else {
      delete caching;  // an allocator of higher priority is installed: leave it
    }
  });
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache"));
  exports.Set("cpuAllocatorStats", Napi::Function::New(env, CpuAllocatorStats, "cpuAllocatorStats"));
}

}  // namespace adaseg
