using System.Runtime.CompilerServices;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// A pinned array whose <see cref="Span"/> starts on a 64-byte (cache line) boundary, so 32-byte vector loads from it
/// never straddle two lines (a per-thread weight panel is read many times; an unlucky managed-array offset costs up to
/// a third of a kernel's speed and makes timings vary from run to run).
/// </summary>
internal sealed unsafe class AlignedBuffer<T>
    where T : unmanaged
{
    private const int Alignment = 64;
    private readonly T[] _array;
    private readonly int _offset;

    public AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _array = GC.AllocateUninitializedArray<T>(length + Alignment / sizeof(T), pinned: true);
        var address = (nint)Unsafe.AsPointer(ref _array[0]);
        _offset = (int)((Alignment - address % Alignment) % Alignment / sizeof(T));
        Length = length;
    }

    public int Length { get; }

    public Span<T> Span => _array.AsSpan(_offset, Length);
}
