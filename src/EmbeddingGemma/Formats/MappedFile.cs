using System.IO.MemoryMappedFiles;

namespace EmbeddingGemma.Formats;

/// <summary>
/// A read-only memory-mapped file. Every access is bounds-checked against the file length, so a corrupt
/// offset becomes an <see cref="EmbeddingGemmaException"/> naming the file, never a crash.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    private MappedFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _pointer = pointer;
        Length = length;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="path"/> read-only. A missing file is <see cref="ErrorKind.NotFound"/>.</summary>
    public static MappedFile Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"File not found: {full}") { FilePath = full };
        }
        // files in a Hugging Face cache snapshot are symlinks to blobs: FileInfo.Length would be the link's own size
        var info = new FileInfo(full);
        var length = info.LinkTarget is null ? info.Length : new FileInfo(info.ResolveLinkTarget(returnFinalTarget: true)!.FullName).Length;
        if (length == 0)
        {
            return new MappedFile(full, null, null, null, 0);
        }
        var map = MemoryMappedFile.CreateFromFile(full, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += view.PointerOffset;
        return new MappedFile(full, map, view, p, length);
    }

    /// <summary>The bytes [offset, offset+length), checked against the file length.</summary>
    public ReadOnlySpan<byte> Span(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_pointer == null && Length != 0, this);
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Path}: range [{offset}, {offset}+{length}) lies outside the file ({Length} bytes); the file is truncated or corrupt.") { FilePath = Path };
        }
        if (length > int.MaxValue)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{Path}: a single read of {length} bytes exceeds 2 GiB.") { FilePath = Path };
        }
        return length == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(_pointer + offset, (int)length);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_view is not null && _pointer != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointer = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
