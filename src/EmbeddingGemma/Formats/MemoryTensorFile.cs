using System.Runtime.InteropServices;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>
/// Float32 tensors held in memory (a trained or generated checkpoint) behind the same <see cref="ITensorFile"/> face
/// as a safetensors file, so <see cref="WeightFiles"/> and everything built on it read them unchanged. The bytes live
/// in one native allocation (matrices are viewed in place by the engine, as over a memory-mapped file), freed on
/// <see cref="Dispose"/>; the values are copied in, so later changes to the source arrays do not reach it.
/// </summary>
public sealed unsafe class MemoryTensorFile : ITensorFile
{
    private byte* _data;
    private readonly long _length;

    /// <summary>Copies <paramref name="tensors"/> (name, PyTorch-order shape, float32 values) into native memory.</summary>
    public MemoryTensorFile(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Path = path ?? "(memory)";
        var list = tensors.ToList();
        var infos = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, shape, values) in list)
        {
            var count = shape.Aggregate(1L, (a, b) => a * b);
            if (count != values.LongLength)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{Path}: tensor '{name}' has {values.LongLength} values for shape [{string.Join(", ", shape)}].");
            }
            if (!infos.TryAdd(name, new TensorInfo(name, GgmlType.F32, shape, offset, count * 4)))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{Path}: tensor '{name}' appears twice.");
            }
            offset += (count * 4 + 63) / 64 * 64;
        }
        _length = Math.Max(offset, 64);
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)_length, 64);
        foreach (var (name, _, values) in list)
        {
            var info = infos[name];
            MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(new Span<byte>(_data + info.DataOffset, checked((int)info.ByteLength)));
        }
        Tensors = infos;
    }

    /// <inheritdoc />
    public string Path { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetBytes(TensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(_data is null, this);
        if (tensor.DataOffset < 0 || tensor.ByteLength < 0 || tensor.DataOffset + tensor.ByteLength > _length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{Path}: tensor '{tensor.Name}' lies outside the buffer.");
        }
        return new ReadOnlySpan<byte>(_data + tensor.DataOffset, checked((int)tensor.ByteLength));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_data is not null)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
    }
}
