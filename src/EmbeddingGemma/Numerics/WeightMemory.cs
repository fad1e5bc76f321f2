using System.Buffers;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// Memory views that let <see cref="WeightMatrix"/> use weights where they already are: native memory such as a
/// memory-mapped file (the caller keeps the mapping alive), or a float32 array pinned for the view's lifetime.
/// </summary>
public static class WeightMemory
{
    /// <summary>Bytes at <paramref name="pointer"/> (e.g. inside a memory-mapped file) as memory; no copy.</summary>
    public static unsafe ReadOnlyMemory<byte> FromPointer(byte* pointer, int length) => new NativeBytes(pointer, length).Memory;

    /// <summary>
    /// A span that lies in native memory which outlives the returned memory (a memory-mapped file's view), as
    /// memory; no copy. Never pass a span over a managed array (it could move).
    /// </summary>
    public static unsafe ReadOnlyMemory<byte> FromNativeSpan(ReadOnlySpan<byte> span)
    {
        fixed (byte* p = span)
        {
            return new NativeBytes(p, span.Length).Memory;
        }
    }

    /// <summary>The bytes of <paramref name="values"/> (viewed in place; pinned only if a consumer pins it); no copy.</summary>
    public static ReadOnlyMemory<byte> FromFloats(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new PinnedFloatBytes(values).Memory;
    }

    /// <summary>
    /// Tells the OS that the whole pages inside <paramref name="memory"/> (native memory such as a read-only file mapping)
    /// are not needed now: on Linux <c>madvise(MADV_DONTNEED)</c>, so they leave the resident set and are read from the
    /// file again only if touched again. No effect on managed memory or other systems. Used after a matrix was packed.
    /// </summary>
    internal static unsafe void ReleasePages(ReadOnlyMemory<byte> memory)
    {
        if (!OperatingSystem.IsLinux() || !MemoryMarshal.TryGetMemoryManager<byte, NativeBytes>(memory, out var native, out var start, out var length))
        {
            return;
        }
        var page = Environment.SystemPageSize;
        var first = ((nuint)(native.Pointer + start) + (nuint)page - 1) / (nuint)page * (nuint)page;
        var end = (nuint)(native.Pointer + start + length) / (nuint)page * (nuint)page;
        if (end > first)
        {
            _ = Madvise((void*)first, end - first, 4 /* MADV_DONTNEED */);
        }
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = false)]
    private static extern unsafe int Madvise(void* address, nuint length, int advice);

    private sealed unsafe class NativeBytes(byte* pointer, int length) : MemoryManager<byte>
    {
        public byte* Pointer => pointer;

        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }

    private sealed class PinnedFloatBytes(float[] values) : MemoryManager<byte>
    {
        private GCHandle _handle;

        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(values.AsSpan());

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            if (!_handle.IsAllocated)
            {
                _handle = GCHandle.Alloc(values, GCHandleType.Pinned);
            }
            return new MemoryHandle((byte*)_handle.AddrOfPinnedObject() + elementIndex);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_handle.IsAllocated)
            {
                _handle.Free();
            }
        }
    }
}
