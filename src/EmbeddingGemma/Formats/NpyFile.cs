using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EmbeddingGemma.Formats;

/// <summary>
/// NumPy <c>.npy</c> files of 2-D C-order matrices (format versions 1.0, 2.0 and 3.0). Writing: any element type
/// given as its dtype string (<c>&lt;f4</c>, <c>|i1</c>, <c>|u1</c>), with the bytes as they are. Reading: float
/// matrices (<c>&lt;f4</c>, <c>&lt;f8</c>, <c>&lt;f2</c>; big-endian <c>&gt;</c> too) as float32 rows. A malformed
/// file is refused with InvalidFormat naming the file and what is wrong.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes a version 1.0 header for a [rows, cols] matrix of <paramref name="descr"/> elements, then <paramref name="data"/>.</summary>
    public static void Write(Stream stream, string descr, int rows, int cols, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 bytes.
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        Span<byte> prefix = stackalloc byte[10];
        Magic.CopyTo(prefix);
        prefix[6] = 1;
        prefix[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(data);
    }

    /// <summary>Reads a 2-D float matrix (a 1-D array is one row) as float32 rows.</summary>
    public static float[][] ReadFloatMatrix(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"File not found: {path}.") { FilePath = path };
        }
        catch (DirectoryNotFoundException)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"File not found: {path}.") { FilePath = path };
        }
        return ReadFloatMatrix(bytes, path);
    }

    /// <summary>Reads a 2-D float matrix from the bytes of a .npy file (<paramref name="name"/> names it in errors).</summary>
    public static float[][] ReadFloatMatrix(ReadOnlySpan<byte> bytes, string name)
    {
        EmbeddingGemmaException Bad(string why) => new(ErrorKind.InvalidFormat, $"{name}: not a usable .npy file: {why}.") { FilePath = name };
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw Bad("it does not start with the .npy magic \\x93NUMPY");
        }
        int major = bytes[6];
        int headerLength, start;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
                start = 10;
                break;
            case 2 or 3 when bytes.Length >= 12:
                uint len = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
                headerLength = len > int.MaxValue ? int.MaxValue : (int)len;
                start = 12;
                break;
            default:
                throw Bad($"format version {major}.{bytes[7]} (1.0, 2.0 and 3.0 are read)");
        }
        if (headerLength > bytes.Length - start)
        {
            throw Bad($"the header is {headerLength} bytes but the file has {bytes.Length - start} after the prefix");
        }
        string header = Encoding.UTF8.GetString(bytes.Slice(start, headerLength));
        var descr = DescrRegex().Match(header);
        var fortran = FortranRegex().Match(header);
        var shape = ShapeRegex().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
        {
            throw Bad($"the header {header.Trim()} lacks 'descr', 'fortran_order' or 'shape'");
        }
        if (fortran.Groups[1].Value == "True")
        {
            throw Bad("fortran_order is True; write the array in C order (np.ascontiguousarray)");
        }
        string d = descr.Groups[1].Value;
        bool little = d[0] is '<' or '|' || (d[0] == '=' && BitConverter.IsLittleEndian);
        int size = d[1..] switch
        {
            "f2" => 2,
            "f4" => 4,
            "f8" => 8,
            _ => throw Bad($"dtype '{d}': vectors must be floating point (<f4, <f8 or <f2)"),
        };
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        long[] n = new long[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            if (!long.TryParse(dims[i], NumberStyles.None, CultureInfo.InvariantCulture, out n[i]))
            {
                throw Bad($"shape ({shape.Groups[1].Value}) is not a list of non-negative integers");
            }
        }
        (long rows, long cols) = n.Length switch
        {
            1 => (1L, n[0]),
            2 => (n[0], n[1]),
            _ => throw Bad($"shape ({shape.Groups[1].Value}) has {n.Length} dimensions; expected a matrix [vectors, dimensions]"),
        };
        if (cols == 0 || rows > int.MaxValue || cols > int.MaxValue)
        {
            throw Bad($"shape ({shape.Groups[1].Value}) holds no vectors of a usable size");
        }
        var body = bytes[(start + headerLength)..];
        Int128 need = (Int128)rows * cols * size; // up to 2^65: no overflow in 128 bits
        if (body.Length != need)
        {
            throw Bad($"shape ({rows}, {cols}) of {d} needs {need} data bytes; the file has {body.Length}");
        }
        var result = new float[rows][];
        for (long r = 0; r < rows; r++)
        {
            var row = new float[cols];
            for (long c = 0; c < cols; c++)
            {
                var e = body.Slice((int)((r * cols + c) * size), size);
                row[c] = size switch
                {
                    2 => (float)(little ? BinaryPrimitives.ReadHalfLittleEndian(e) : BinaryPrimitives.ReadHalfBigEndian(e)),
                    4 => little ? BinaryPrimitives.ReadSingleLittleEndian(e) : BinaryPrimitives.ReadSingleBigEndian(e),
                    _ => (float)(little ? BinaryPrimitives.ReadDoubleLittleEndian(e) : BinaryPrimitives.ReadDoubleBigEndian(e)),
                };
            }
            result[r] = row;
        }
        return result;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=][fiub]\d+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
