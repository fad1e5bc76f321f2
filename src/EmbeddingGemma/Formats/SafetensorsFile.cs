using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>
/// Reads a <c>.safetensors</c> file (u64 little-endian header length, JSON header, raw little-endian data),
/// memory-mapped. Supported dtypes: F32, F16, BF16. Every offset and shape is checked against the file.
/// </summary>
public sealed class SafetensorsFile : ITensorFile
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;
    private readonly MappedFile _file;
    private readonly long _dataStart;

    private SafetensorsFile(MappedFile file, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata, long dataStart)
    {
        _file = file;
        Tensors = tensors;
        Metadata = metadata;
        _dataStart = dataStart;
    }

    /// <inheritdoc />
    public string Path => _file.Path;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Maps the dtype strings of the safetensors format onto ggml types (null when not supported here).</summary>
    public static GgmlType? ParseDType(string dtype) => dtype switch
    {
        "F32" => GgmlType.F32,
        "F16" => GgmlType.F16,
        "BF16" => GgmlType.BF16,
        _ => null,
    };

    /// <summary>The safetensors dtype string of a ggml type (F32, F16, BF16 only).</summary>
    public static string DTypeName(GgmlType type) => type switch
    {
        GgmlType.F32 => "F32",
        GgmlType.F16 => "F16",
        GgmlType.BF16 => "BF16",
        _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"safetensors cannot store ggml type {type}; use F32, F16 or BF16."),
    };

    /// <summary>Opens and validates a safetensors file.</summary>
    public static SafetensorsFile Open(string path)
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

    private static EmbeddingGemmaException Bad(MappedFile f, string what) =>
        new(ErrorKind.InvalidFormat, $"{f.Path}: not a valid safetensors file: {what}") { FilePath = f.Path };

    private static SafetensorsFile Parse(MappedFile f)
    {
        if (f.Length < 8)
        {
            throw Bad(f, $"the file is {f.Length} bytes, shorter than the 8-byte header length");
        }
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(f.Span(0, 8));
        if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > f.Length - 8)
        {
            throw Bad(f, $"header length {headerLength} exceeds the file ({f.Length} bytes) or the 100 MiB limit; the file is truncated or corrupt");
        }
        var dataStart = 8 + (long)headerLength;
        var dataLength = f.Length - dataStart;
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(f.Span(8, (long)headerLength).ToArray());
        }
        catch (JsonException e)
        {
            throw Bad(f, "the JSON header does not parse: " + e.Message);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Bad(f, "the JSON header is not an object");
            }
            try
            {
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind == JsonValueKind.Object)
                        {
                            foreach (var m in prop.Value.EnumerateObject())
                            {
                                metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                            }
                        }
                        continue;
                    }
                    if (!tensors.TryAdd(prop.Name, ParseTensor(f, prop, dataStart, dataLength)))
                    {
                        throw Bad(f, $"tensor '{prop.Name}' appears twice in the header");
                    }
                }
            }
            catch (InvalidOperationException e)
            {
                // fuzz/crashes/safetensors/invalid-utf8-*.safetensors: JsonDocument parses invalid UTF-8 and unpaired
                // surrogate escapes; reading such a name or string throws InvalidOperationException
                throw Bad(f, $"the JSON header holds text that is not valid Unicode: {e.Message}");
            }
        }
        TensorRanges.CheckNoOverlap(tensors.Values, what => Bad(f, what));
        return new SafetensorsFile(f, tensors, metadata, dataStart);
    }

    private static TensorInfo ParseTensor(MappedFile f, JsonProperty prop, long dataStart, long dataLength)
    {
        var name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
        {
            throw Bad(f, $"tensor '{name}' needs dtype (string), shape (array) and data_offsets ([begin, end])");
        }
        var dtype = dtypeEl.GetString()!;
        var type = ParseDType(dtype) ?? throw new EmbeddingGemmaException(ErrorKind.Unsupported,
            $"{f.Path}: tensor '{name}' has dtype {dtype}; supported dtypes are F32, F16 and BF16.") { FilePath = f.Path };
        var shape = new long[shapeEl.GetArrayLength()];
        var i = 0;
        long count = 1;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0 || n > int.MaxValue)
            {
                throw Bad(f, $"tensor '{name}' has an invalid dimension {d.GetRawText()}");
            }
            shape[i++] = n;
            // fuzz/crashes/safetensors/shape-overflow.safetensors: the product overflows, or its byte size does
            if (n != 0 && count > long.MaxValue / 8 / n)
            {
                throw Bad(f, $"tensor '{name}' has more elements than any file can hold (shape {shapeEl.GetRawText()})");
            }
            count *= n;
        }
        if (offEl[0].ValueKind != JsonValueKind.Number || offEl[1].ValueKind != JsonValueKind.Number || !offEl[0].TryGetInt64(out var begin) || !offEl[1].TryGetInt64(out var end) || begin < 0 || end < begin)
        {
            throw Bad(f, $"tensor '{name}' has invalid data_offsets {offEl.GetRawText()}");
        }
        var expected = count * GgmlTypeInfo.BlockBytes(type);
        if (end - begin != expected)
        {
            throw Bad(f, $"tensor '{name}' ({dtype} {string.Join("x", shape)}) needs {expected} bytes but data_offsets span {end - begin}");
        }
        if (end > dataLength)
        {
            throw Bad(f, $"tensor '{name}' ends at data byte {end} but the data section has only {dataLength} bytes (file truncated?)");
        }
        return new TensorInfo(name, type, shape, dataStart + begin, end - begin);
    }

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetBytes(TensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return _file.Span(tensor.DataOffset, tensor.ByteLength);
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}

/// <summary>A tensor to write: name, stored type, PyTorch-order shape and float32 values (converted on write).</summary>
public sealed record TensorToWrite(string Name, GgmlType Type, long[] Shape, float[] Values);

/// <summary>Writes safetensors files (F32, F16, BF16), tensors in the given order, header padded to 8 bytes.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            if (metadata is not null)
            {
                foreach (var (k, v) in metadata)
                {
                    w.WriteString(k, v);
                }
            }
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in list)
            {
                var bytes = t.Values.Length * (long)GgmlTypeInfo.BlockBytes(t.Type);
                if (t.Shape.Aggregate(1L, (a, b) => a * b) != t.Values.Length)
                {
                    throw new ArgumentException($"Tensor '{t.Name}': shape [{string.Join(", ", t.Shape)}] does not match {t.Values.Length} values.", nameof(tensors));
                }
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", SafetensorsFile.DTypeName(t.Type));
                w.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var header = ms.ToArray().ToList();
        while (header.Count % 8 != 0)
        {
            header.Add((byte)' ');
        }
        // Through a temporary file renamed over the destination: a reader mapping the old file keeps its bytes.
        AtomicFile.Write(path, fs =>
        {
            var len = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
            fs.Write(len);
            fs.Write(header.ToArray());
            foreach (var t in list)
            {
                WriteValues(fs, t.Type, t.Values);
            }
        });
    }

    internal static void WriteValues(Stream s, GgmlType type, float[] values)
    {
        const int chunk = 1 << 16;
        var buffer = new byte[GgmlTypeInfo.RowBytes(type, chunk)];
        var bs = GgmlTypeInfo.BlockSize(type);
        for (var i = 0; i < values.Length; i += chunk)
        {
            var n = Math.Min(chunk, values.Length - i);
            if (n % bs != 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{values.Length} values cannot be stored as {type} (block size {bs}).");
            }
            var bytes = (int)GgmlTypeInfo.RowBytes(type, n);
            Numerics.Quantization.ScalarQuant.Quantize(type, values.AsSpan(i, n), buffer.AsSpan(0, bytes));
            s.Write(buffer, 0, bytes);
        }
    }
}
