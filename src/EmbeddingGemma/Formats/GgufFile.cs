using System.Buffers.Binary;
using System.Text;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>GGUF metadata value types (gguf.h <c>enum gguf_type</c>).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One metadata value. Scalars are stored as the matching .NET type (byte, sbyte, ushort, short, uint, int, float,
/// bool, string, ulong, long, double); arrays as a typed .NET array (e.g. string[], float[], int[]).
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    /// <summary>The value as an unsigned integer (any integer type that fits).</summary>
    public ulong AsUInt64() => Value switch
    {
        byte v => v,
        ushort v => v,
        uint v => v,
        ulong v => v,
        sbyte v when v >= 0 => (ulong)v,
        short v when v >= 0 => (ulong)v,
        int v when v >= 0 => (ulong)v,
        long v when v >= 0 => (ulong)v,
        _ => throw new InvalidCastException($"GGUF value of type {Type} is not a non-negative integer."),
    };

    /// <summary>The value as a double (any numeric type).</summary>
    public double AsDouble() => Value switch
    {
        float v => v,
        double v => v,
        bool => throw new InvalidCastException("GGUF bool is not a number."),
        string => throw new InvalidCastException("GGUF string is not a number."),
        Array => throw new InvalidCastException("GGUF array is not a number."),
        _ => Convert.ToDouble(Value, System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Reads a GGUF v2/v3 file, memory-mapped: header, typed metadata, tensor infos, aligned data section.
/// Every count, length and offset is checked against the file before use.
/// </summary>
public sealed class GgufFile : ITensorFile
{
    /// <summary>The alignment used when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private readonly MappedFile _file;

    /// <summary>
    /// Metadata arrays longer than this (the tokenizer's 262,144 tokens, scores and types) are validated at open but
    /// decoded again on each access instead of being held: a model keeps no second copy of its vocabulary for its
    /// lifetime (about 30 MB of the resident set for Gemma's).
    /// </summary>
    internal const ulong LazyArrayElements = 4096;

    private GgufFile(MappedFile file, uint version, IReadOnlyDictionary<string, GgufValue> metadata, Dictionary<string, TensorInfo> tensors, long dataStart, int alignment)
    {
        _file = file;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        DataStart = dataStart;
        Alignment = alignment;
    }

    /// <inheritdoc />
    public string Path => _file.Path;

    /// <summary>Format version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>Metadata key/value pairs, in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>File offset of the data section.</summary>
    public long DataStart { get; }

    /// <summary>Data alignment in bytes.</summary>
    public int Alignment { get; }

    /// <summary>Opens and validates a GGUF file.</summary>
    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetBytes(TensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return _file.Span(tensor.DataOffset, tensor.ByteLength);
    }

    /// <summary>True when the key exists.</summary>
    public bool Has(string key) => Metadata.ContainsKey(key);

    /// <summary>A required unsigned integer value (InvalidFormat naming the key when missing or mistyped).</summary>
    public ulong GetUInt(string key) => Require(key, v => v.AsUInt64(), "an unsigned integer");

    /// <summary>A required numeric value.</summary>
    public double GetDouble(string key) => Require(key, v => v.AsDouble(), "a number");

    /// <summary>A required string value.</summary>
    public string GetString(string key) => Require(key, v => (string)v.Value, "a string");

    /// <summary>An optional unsigned integer.</summary>
    public ulong? TryGetUInt(string key) => Metadata.ContainsKey(key) ? GetUInt(key) : null;

    /// <summary>An optional number.</summary>
    public double? TryGetDouble(string key) => Metadata.ContainsKey(key) ? GetDouble(key) : null;

    /// <summary>An optional bool.</summary>
    public bool? TryGetBool(string key) => Metadata.ContainsKey(key) ? Require(key, v => (bool)v.Value, "a bool") : null;

    /// <summary>An optional string.</summary>
    public string? TryGetString(string key) => Metadata.ContainsKey(key) ? GetString(key) : null;

    /// <summary>An optional typed array (e.g. string[], float[], int[]).</summary>
    public T[]? TryGetArray<T>(string key) => Metadata.ContainsKey(key) ? Require(key, v => (T[])v.Value, $"an array of {typeof(T).Name}") : null;

    private T Require<T>(string key, Func<GgufValue, T> get, string what)
    {
        if (!Metadata.TryGetValue(key, out var v))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Path}: GGUF metadata key '{key}' is missing (expected {what}).") { FilePath = Path };
        }
        try
        {
            return get(v);
        }
        catch (InvalidCastException)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Path}: GGUF metadata key '{key}' has type {v.Type}, expected {what}.") { FilePath = Path };
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private static GgufFile Parse(MappedFile f)
    {
        var r = new Cursor(f);
        if (f.Length < 24)
        {
            throw r.Bad($"the file is {f.Length} bytes, shorter than a GGUF header (24 bytes)");
        }
        var magic = r.U32();
        if (magic != Magic)
        {
            throw r.Bad($"magic is 0x{magic:X8}, expected 0x{Magic:X8} (\"GGUF\")");
        }
        var version = r.U32();
        if (version is not (2 or 3))
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{f.Path}: GGUF version {version} is not supported (2 and 3 are).") { FilePath = f.Path };
        }
        var tensorCount = r.U64();
        var kvCount = r.U64();
        // Each KV needs at least 8 (key length) + 4 (type) bytes; each tensor info at least 8 + 4 + 4 + 8.
        if (kvCount > (ulong)(f.Length / 12) || tensorCount > (ulong)(f.Length / 24))
        {
            throw r.Bad($"header claims {tensorCount} tensors and {kvCount} metadata entries, more than the file ({f.Length} bytes) can hold");
        }
        var metadata = new LazyMetadata(f);
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = r.Str();
            var type = (GgufValueType)r.U32();
            var at = r.Position;
            var value = r.Value(type, key, depth: 0);   // every value is decoded (validated) once at open
            if (type == GgufValueType.Array && value.Value is Array { LongLength: > (long)LazyArrayElements })
            {
                metadata.AddLazy(key, type, at);
            }
            else
            {
                metadata.Add(key, value);
            }
        }
        var alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var al))
        {
            var a = al.Value is uint u ? u : 0;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 20)
            {
                throw r.Bad($"general.alignment must be a power-of-two u32, got {al.Value}");
            }
            alignment = (int)a;
        }
        var infos = new List<(string Name, long[] Ne, GgmlType Type, ulong Offset)>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = r.Str();
            var nDims = r.U32();
            if (nDims is 0 or > 4)
            {
                throw r.Bad($"tensor '{name}' has {nDims} dimensions (1..4 allowed)");
            }
            var ne = new long[nDims];
            for (var d = 0; d < nDims; d++)
            {
                var n = r.U64();
                if (n > int.MaxValue)
                {
                    throw r.Bad($"tensor '{name}' dimension {d} is {n}");
                }
                ne[d] = (long)n;
            }
            var type = (GgmlType)r.U32();
            var offset = r.U64();
            infos.Add((name, ne, type, offset));
        }
        var dataStart = AlignUp(r.Position, alignment);
        if (dataStart > f.Length)
        {
            throw r.Bad($"data section would start at {dataStart}, past the end of the file ({f.Length} bytes)");
        }
        var dataLength = f.Length - dataStart;
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (var (name, ne, type, offset) in infos)
        {
            if (!GgmlTypeInfo.IsKnown(type))
            {
                throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{f.Path}: tensor '{name}' has unknown ggml type id {(uint)type}.") { FilePath = f.Path };
            }
            long count = 1;
            foreach (var n in ne)
            {
                // fuzz/crashes/gguf/dims-overflow.gguf: the product of 4 dimensions < 2^31 overflows a long
                if (n != 0 && count > long.MaxValue / n)
                {
                    throw r.Bad($"tensor '{name}' has {string.Join(" x ", ne)} elements, more than any file can hold");
                }
                count *= n;
            }
            if (ne[0] % GgmlTypeInfo.BlockSize(type) != 0)
            {
                throw r.Bad($"tensor '{name}' row length {ne[0]} is not a multiple of the {type} block size {GgmlTypeInfo.BlockSize(type)}");
            }
            var bytes = GgmlTypeInfo.RowBytes(type, count);
            if (offset % (ulong)alignment != 0)
            {
                throw r.Bad($"tensor '{name}' offset {offset} is not a multiple of the alignment {alignment}");
            }
            if (offset > (ulong)dataLength || bytes > dataLength - (long)offset)
            {
                throw r.Bad($"tensor '{name}' ({type}, {bytes} bytes at data offset {offset}) extends past the end of the file (data section {dataLength} bytes); the file is truncated or its offsets are corrupt");
            }
            if (!tensors.TryAdd(name, new TensorInfo(name, type, ne.Reverse().ToArray(), dataStart + (long)offset, bytes)))
            {
                throw r.Bad($"tensor '{name}' appears twice");
            }
        }
        TensorRanges.CheckNoOverlap(tensors.Values, r.Bad);
        return new GgufFile(f, version, metadata, tensors, dataStart, alignment);
    }

    internal static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>Metadata in file order; large arrays are decoded from the mapped file on access.</summary>
    private sealed class LazyMetadata(MappedFile f) : IReadOnlyDictionary<string, GgufValue>
    {
        private readonly Dictionary<string, GgufValue> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (GgufValueType Type, long Position)> _lazy = new(StringComparer.Ordinal);
        private readonly List<string> _order = [];

        public void Add(string key, GgufValue value)
        {
            if (!_values.ContainsKey(key) && !_lazy.ContainsKey(key))
            {
                _order.Add(key);
            }
            _lazy.Remove(key);
            _values[key] = value;
        }

        public void AddLazy(string key, GgufValueType type, long position)
        {
            if (!_values.ContainsKey(key) && !_lazy.ContainsKey(key))
            {
                _order.Add(key);
            }
            _values.Remove(key);
            _lazy[key] = (type, position);
        }

        public GgufValue this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);

        public IEnumerable<string> Keys => _order;

        public IEnumerable<GgufValue> Values => _order.Select(k => this[k]);

        public int Count => _order.Count;

        public bool ContainsKey(string key) => _values.ContainsKey(key) || _lazy.ContainsKey(key);

        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GgufValue value)
        {
            if (_values.TryGetValue(key, out value))
            {
                return true;
            }
            if (_lazy.TryGetValue(key, out var at))
            {
                value = new Cursor(f, at.Position).Value(at.Type, key, depth: 0);
                return true;
            }
            return false;
        }

        public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator()
        {
            foreach (var k in _order)
            {
                yield return new KeyValuePair<string, GgufValue>(k, this[k]);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class Cursor(MappedFile f, long start = 0)
    {
        private const int MaxStringBytes = 1 << 24;
        public long Position { get; private set; } = start;

        public EmbeddingGemmaException Bad(string what) =>
            new(ErrorKind.InvalidFormat, $"{f.Path}: not a valid GGUF file: {what} (at byte {Position}).") { FilePath = f.Path };

        private ReadOnlySpan<byte> Take(long n)
        {
            if (n < 0 || n > f.Length - Position)
            {
                throw Bad($"needs {n} more bytes but the file ends at {f.Length}; it is truncated or a length field is corrupt");
            }
            var s = f.Span(Position, n);
            Position += n;
            return s;
        }

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public string Str()
        {
            var n = U64();
            if (n > MaxStringBytes)
            {
                throw Bad($"string length {n} exceeds the 16 MiB limit");
            }
            return Encoding.UTF8.GetString(Take((long)n));
        }

        public GgufValue Value(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return new(type, Take(1)[0]);
                case GgufValueType.Int8: return new(type, (sbyte)Take(1)[0]);
                case GgufValueType.UInt16: return new(type, BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));
                case GgufValueType.Int16: return new(type, BinaryPrimitives.ReadInt16LittleEndian(Take(2)));
                case GgufValueType.UInt32: return new(type, U32());
                case GgufValueType.Int32: return new(type, BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
                case GgufValueType.Float32: return new(type, BinaryPrimitives.ReadSingleLittleEndian(Take(4)));
                case GgufValueType.Bool:
                    var b = Take(1)[0];
                    if (b > 1)
                    {
                        throw Bad($"metadata '{key}': bool byte {b}");
                    }
                    return new(type, b == 1);
                case GgufValueType.String: return new(type, Str());
                case GgufValueType.UInt64: return new(type, U64());
                case GgufValueType.Int64: return new(type, BinaryPrimitives.ReadInt64LittleEndian(Take(8)));
                case GgufValueType.Float64: return new(type, BinaryPrimitives.ReadDoubleLittleEndian(Take(8)));
                case GgufValueType.Array when depth == 0:
                    var et = (GgufValueType)U32();
                    var count = U64();
                    if (count > (ulong)(f.Length - Position))
                    {
                        throw Bad($"metadata '{key}': array of {count} elements is longer than the rest of the file");
                    }
                    return new(type, ReadArray(et, (long)count, key), et);
                default:
                    throw Bad($"metadata '{key}' has unknown value type {(uint)type}");
            }
        }

        private Array ReadArray(GgufValueType et, long count, string key)
        {
            switch (et)
            {
                case GgufValueType.String:
                    var s = new string[count];
                    for (long i = 0; i < count; i++)
                    {
                        s[i] = Str();
                    }
                    return s;
                case GgufValueType.Float32:
                    var fl = new float[count];
                    var fb = Take(count * 4);
                    for (var i = 0; i < count; i++)
                    {
                        fl[i] = BinaryPrimitives.ReadSingleLittleEndian(fb[(i * 4)..]);
                    }
                    return fl;
                case GgufValueType.Int32:
                    var ia = new int[count];
                    var ib = Take(count * 4);
                    for (var i = 0; i < count; i++)
                    {
                        ia[i] = BinaryPrimitives.ReadInt32LittleEndian(ib[(i * 4)..]);
                    }
                    return ia;
                case GgufValueType.UInt32:
                    var ua = new uint[count];
                    var ub = Take(count * 4);
                    for (var i = 0; i < count; i++)
                    {
                        ua[i] = BinaryPrimitives.ReadUInt32LittleEndian(ub[(i * 4)..]);
                    }
                    return ua;
                case GgufValueType.Array:
                    throw Bad($"metadata '{key}': nested arrays are not supported");
                default:
                    var objs = new object[count];
                    for (long i = 0; i < count; i++)
                    {
                        objs[i] = Value(et, key, 1).Value;
                    }
                    return objs;
            }
        }
    }
}
