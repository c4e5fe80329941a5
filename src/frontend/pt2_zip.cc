// Zip access for .pt2 archives: minizip driven through an in-memory ioapi, so a
// file and a buffer share one code path and every read is bounds-checked by
// minizip against the buffer we hand it. Entry CRCs are checked on read.
#include <minizip/unzip.h>

#include <algorithm>
#include <cstring>

#include "frontend/pt2_internal.h"

namespace ingot::frontend::pt2 {

namespace {

struct MemoryStream {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint64_t pos = 0;
};

voidpf ZCALLBACK mem_open(voidpf opaque, const void*, int mode) {
  if ((mode & ZLIB_FILEFUNC_MODE_READWRITEFILTER) != ZLIB_FILEFUNC_MODE_READ) return nullptr;
  static_cast<MemoryStream*>(opaque)->pos = 0;
  return opaque;
}
uLong ZCALLBACK mem_read(voidpf, voidpf stream, void* buf, uLong size) {
  auto* s = static_cast<MemoryStream*>(stream);
  uint64_t left = s->pos < s->size ? s->size - s->pos : 0;
  uint64_t n = std::min<uint64_t>(left, size);
  if (n) std::memcpy(buf, s->data + s->pos, n);
  s->pos += n;
  return static_cast<uLong>(n);
}
uLong ZCALLBACK mem_write(voidpf, voidpf, const void*, uLong) { return 0; }
ZPOS64_T ZCALLBACK mem_tell(voidpf, voidpf stream) { return static_cast<MemoryStream*>(stream)->pos; }
long ZCALLBACK mem_seek(voidpf, voidpf stream, ZPOS64_T offset, int origin) {
  auto* s = static_cast<MemoryStream*>(stream);
  uint64_t base = 0;
  switch (origin) {
    case ZLIB_FILEFUNC_SEEK_SET: base = 0; break;
    case ZLIB_FILEFUNC_SEEK_CUR: base = s->pos; break;
    case ZLIB_FILEFUNC_SEEK_END: base = s->size; break;
    default: return -1;
  }
  // Unsigned wrap-around makes a negative offset passed as ZPOS64_T work too.
  uint64_t target = base + offset;
  if (target > s->size) return -1;
  s->pos = target;
  return 0;
}
int ZCALLBACK mem_close(voidpf, voidpf) { return 0; }
int ZCALLBACK mem_error(voidpf, voidpf) { return 0; }

// Declared sizes beyond this are treated as corrupt rather than allocated.
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 36;  // 64 GiB

}  // namespace

struct ZipArchive::Impl {
  MemoryStream stream;
  zlib_filefunc64_def funcs{};
  unzFile handle = nullptr;
};

ZipArchive::~ZipArchive() {
  if (impl_ && impl_->handle) unzClose(impl_->handle);
}

Result<std::unique_ptr<ZipArchive>> ZipArchive::open(const uint8_t* data, size_t size) {
  std::unique_ptr<ZipArchive> zip(new ZipArchive());
  zip->impl_ = std::make_unique<Impl>();
  Impl& im = *zip->impl_;
  im.stream = {data, size, 0};
  im.funcs.zopen64_file = mem_open;
  im.funcs.zread_file = mem_read;
  im.funcs.zwrite_file = mem_write;
  im.funcs.ztell64_file = mem_tell;
  im.funcs.zseek64_file = mem_seek;
  im.funcs.zclose_file = mem_close;
  im.funcs.zerror_file = mem_error;
  im.funcs.opaque = &im.stream;
  im.handle = unzOpen2_64("memory", &im.funcs);
  if (!im.handle) {
    bool looks_zip = size >= 4 && data[0] == 'P' && data[1] == 'K';
    if (looks_zip)
      return corrupt("the zip archive is damaged or truncated (its central directory cannot be read)");
    return invalid_argument("not a zip archive, so not a torch.export .pt2 file");
  }
  int rc = unzGoToFirstFile(im.handle);
  while (rc == UNZ_OK) {
    unz_file_info64 info{};
    char name[4096];
    if (unzGetCurrentFileInfo64(im.handle, &info, name, sizeof(name), nullptr, 0, nullptr, 0) != UNZ_OK)
      return corrupt("a zip central directory entry cannot be read");
    unz64_file_pos pos{};
    if (unzGetFilePos64(im.handle, &pos) != UNZ_OK) return corrupt("a zip entry position cannot be read");
    Entry e;
    e.name.assign(name, strnlen(name, sizeof(name)));
    e.size = info.uncompressed_size;
    e.compressed_size = info.compressed_size;
    e.method = static_cast<int>(info.compression_method);
    e.pos_in_central_dir = pos.pos_in_zip_directory;
    e.num_of_file = pos.num_of_file;
    if (e.method == 0 && e.size != e.compressed_size)
      return corrupt("zip entry '" + e.name + "' is stored with mismatched sizes");
    if ((e.method == 0 && e.size > size) || e.size > kMaxEntryBytes)
      return corrupt("zip entry '" + e.name + "' claims " + std::to_string(e.size) +
                     " bytes, more than the archive holds (truncated or damaged file)");
    zip->index_.emplace(e.name, zip->entries_.size());
    zip->entries_.push_back(std::move(e));
    if (zip->entries_.size() > 1000000) return corrupt("the zip archive lists too many entries");
    rc = unzGoToNextFile(im.handle);
  }
  if (rc != UNZ_END_OF_LIST_OF_FILE) return corrupt("the zip central directory is damaged");
  if (zip->entries_.empty()) return invalid_argument("the zip archive is empty, so not a torch.export .pt2 file");
  return zip;
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Result<std::vector<uint8_t>> ZipArchive::read(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) return not_found("the archive has no entry '" + name + "'");
  unz64_file_pos pos{e->pos_in_central_dir, e->num_of_file};
  unzFile h = impl_->handle;
  if (unzGoToFilePos64(h, &pos) != UNZ_OK) return corrupt("zip entry '" + name + "' cannot be located");
  if (unzOpenCurrentFile(h) != UNZ_OK)
    return corrupt("zip entry '" + name + "' has a damaged local header (truncated or corrupt file)");
  std::vector<uint8_t> out;
  try {
    out.resize(e->size);
  } catch (const std::bad_alloc&) {
    unzCloseCurrentFile(h);
    return corrupt("zip entry '" + name + "' is too large to load (" + std::to_string(e->size) + " bytes)");
  }
  uint64_t done = 0;
  while (done < e->size) {
    unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(e->size - done, 1u << 30));
    int n = unzReadCurrentFile(h, out.data() + done, chunk);
    if (n <= 0) {
      unzCloseCurrentFile(h);
      return corrupt("zip entry '" + name + "' is truncated or damaged (read " + std::to_string(done) + " of " +
                     std::to_string(e->size) + " bytes)");
    }
    done += static_cast<uint64_t>(n);
  }
  // Reading past the declared size must hit the end (no extra data), then the CRC check.
  uint8_t extra;
  int tail = unzReadCurrentFile(h, &extra, 1);
  int close_rc = unzCloseCurrentFile(h);
  if (tail != 0) return corrupt("zip entry '" + name + "' holds more bytes than its header declares");
  if (close_rc == UNZ_CRCERROR) return corrupt("zip entry '" + name + "' fails its CRC check (damaged file)");
  if (close_rc != UNZ_OK) return corrupt("zip entry '" + name + "' cannot be read");
  return out;
}

}  // namespace ingot::frontend::pt2
