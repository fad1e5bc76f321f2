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

    private sealed unsafe class NativeBytes(byte* pointer, int length) : MemoryManager<byte>
    {
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
