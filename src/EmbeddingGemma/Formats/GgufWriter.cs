using System.Buffers.Binary;
using System.Text;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>
/// Writes GGUF v3: metadata in insertion order, tensor infos, then tensor data aligned to <see cref="Alignment"/>.
/// Tensors are given in PyTorch shape order and float32 values, converted to the stored type on write.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value, GgufValueType ElementType)> _kv = [];
    private readonly List<(string Name, GgmlType Type, long[] Shape, float[]? Values, byte[]? Raw)> _tensors = [];

    /// <summary>Data alignment (general.alignment is written when it differs from 32).</summary>
    public int Alignment { get; init; } = GgufFile.DefaultAlignment;

    public GgufWriter AddString(string key, string value) => Add(key, GgufValueType.String, value);
    public GgufWriter AddUInt32(string key, uint value) => Add(key, GgufValueType.UInt32, value);
    public GgufWriter AddInt32(string key, int value) => Add(key, GgufValueType.Int32, value);
    public GgufWriter AddFloat32(string key, float value) => Add(key, GgufValueType.Float32, value);
    public GgufWriter AddBool(string key, bool value) => Add(key, GgufValueType.Bool, value);
    public GgufWriter AddStrings(string key, IReadOnlyList<string> values) => Add(key, GgufValueType.Array, values.ToArray(), GgufValueType.String);
    public GgufWriter AddFloats(string key, IReadOnlyList<float> values) => Add(key, GgufValueType.Array, values.ToArray(), GgufValueType.Float32);
    public GgufWriter AddInts(string key, IReadOnlyList<int> values) => Add(key, GgufValueType.Array, values.ToArray(), GgufValueType.Int32);

    /// <summary>Adds a metadata value as read from another file (<see cref="GgufFile.Metadata"/>), e.g. to rewrite a GGUF.</summary>
    public GgufWriter AddValue(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Add(key, value.Type, value.Value, value.ElementType);
    }

    private GgufWriter Add(string key, GgufValueType type, object value, GgufValueType elementType = GgufValueType.UInt8)
    {
        _kv.RemoveAll(k => k.Key == key);
        _kv.Add((key, type, value, elementType));
        return this;
    }

    /// <summary>Adds a tensor (PyTorch shape order) from float32 values, stored as <paramref name="type"/>.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, float[] values)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(values);
        if (shape.Aggregate(1L, (a, b) => a * b) != values.Length)
        {
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(", ", shape)}] does not match {values.Length} values.", nameof(values));
        }
        if (shape[^1] % GgmlTypeInfo.BlockSize(type) != 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Tensor '{name}': row length {shape[^1]} is not a multiple of the {type} block size {GgmlTypeInfo.BlockSize(type)}.");
        }
        _tensors.Add((name, type, shape, values, null));
        return this;
    }

    /// <summary>Adds a tensor from already-encoded bytes of <paramref name="type"/>.</summary>
    public GgufWriter AddRawTensor(string name, GgmlType type, long[] shape, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(bytes);
        if (GgmlTypeInfo.RowBytes(type, shape.Aggregate(1L, (a, b) => a * b)) != bytes.Length)
        {
            throw new ArgumentException($"Tensor '{name}': {bytes.Length} bytes do not match {type} [{string.Join(", ", shape)}].", nameof(bytes));
        }
        _tensors.Add((name, type, shape, null, bytes));
        return this;
    }

    /// <summary>Writes the file.</summary>
    public void Write(string path)
    {
        if (Alignment != GgufFile.DefaultAlignment && !_kv.Any(k => k.Key == "general.alignment"))
        {
            AddUInt32("general.alignment", (uint)Alignment);
        }
        // Through a temporary file renamed over the destination: a reader mapping the old file keeps its bytes.
        AtomicFile.Write(path, WriteTo);
    }

    private void WriteTo(FileStream fs)
    {
        using var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_kv.Count);
        foreach (var (key, type, value, et) in _kv)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value, et);
        }
        long offset = 0;
        var offsets = new List<long>();
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (var d in t.Shape.Reverse())
            {
                w.Write((ulong)d);
            }
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offsets.Add(offset);
            offset = GgufFile.AlignUp(offset + GgmlTypeInfo.RowBytes(t.Type, t.Shape.Aggregate(1L, (a, b) => a * b)), Alignment);
        }
        w.Flush();
        Pad(fs, GgufFile.AlignUp(fs.Position, Alignment));
        var dataStart = fs.Position;
        for (var i = 0; i < _tensors.Count; i++)
        {
            Pad(fs, dataStart + offsets[i]);
            var t = _tensors[i];
            if (t.Raw is not null)
            {
                fs.Write(t.Raw);
            }
            else
            {
                SafetensorsWriter.WriteValues(fs, t.Type, t.Values!);
            }
        }
        Pad(fs, GgufFile.AlignUp(fs.Position, Alignment));
    }

    private static void Pad(Stream s, long to)
    {
        while (s.Position < to)
        {
            s.WriteByte(0);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value, GgufValueType et)
    {
        switch (type)
        {
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.Array:
                var arr = (Array)value;
                w.Write((uint)et);
                w.Write((ulong)arr.Length);
                foreach (var item in arr)
                {
                    WriteValue(w, et, item!, GgufValueType.UInt8);
                }
                break;
            default:
                throw new NotSupportedException($"GGUF writer: value type {type}.");
        }
    }
}
