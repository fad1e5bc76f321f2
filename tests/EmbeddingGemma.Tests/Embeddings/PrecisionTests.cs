using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Embeddings.Precision;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Embeddings;

/// <summary>
/// Output precision: sentence-transformers' quantize_embeddings rules on fixed vectors, each expected value computed by
/// hand in the comments (float32 arithmetic where it matters). Every comparison is exact: these are integer outputs.
/// </summary>
public sealed class PrecisionTests
{
    // Ranges whose steps (max - min) / 255 are powers of two, so (x - min) / step is exact in float32:
    // dim 0: [0, 255/256] -> step 1/256; dim 1: [-1, -1 + 255/128] -> 1/128; dim 2: [-0.5, -0.5 + 255/512] -> 1/512;
    // dim 3: [0, 0] -> step 0 (a constant dimension).
    private static readonly QuantizationRanges PowerOfTwoRanges = new([0f, -1f, -0.5f, 0f], [255f / 256, -1f + 255f / 128, -0.5f + 255f / 512, 0f]);

    private static readonly float[][] RangeInputs =
    [
        [0.5f, 0f, -0.25f, 0.3f],                 // v = 0.5*256 = 128; 1*128 = 128; 0.25*512 = 128; 0.3/0 = +inf
        [1f / 512, -1f + 1f / 256, 0.25f, -0.3f], // v = 0.5; (1/256)*128 = 0.5; 0.75*512 = 384 (above max); -inf
        [-1f / 256, 0.9921875f, -0.001953125f, 0f], // v = -1 (below min); 1.9921875*128 = 255; 0.498046875*512 = 255; 0/0 = NaN
    ];

    [Fact]
    public void Uint8FollowsTheRangesTruncatesAndWrapsLikeNumpy()
    {
        var q = EmbeddingQuantizer.Quantize(RangeInputs, EmbeddingPrecision.UInt8, PowerOfTwoRanges);
        // 128 -> 128; 0.5 -> 0 (truncation toward zero, no rounding); 384 -> 384 - 256 = 128 (wraps, no clipping);
        // -1 -> 0xFFFFFFFF -> low byte 255; +-inf and NaN -> cvttss2si's 0x80000000 -> 0.
        Assert.Equal([128, 128, 128, 0], q.IntegerRow(0));
        Assert.Equal([0, 0, 128, 0], q.IntegerRow(1));
        Assert.Equal([255, 255, 255, 0], q.IntegerRow(2));
        Assert.Equal("|u1", q.Precision.NumpyDescr());
        // Outside 0..255: the two infinities, 384, -1 and NaN.
        Assert.Equal(5, q.ValuesOutsideRange);
    }

    [Fact]
    public void Int8SubtractsOneHundredTwentyEightBeforeTheCast()
    {
        var q = EmbeddingQuantizer.Quantize(RangeInputs, EmbeddingPrecision.Int8, PowerOfTwoRanges);
        // v - 128: 128 -> 0; 0.5 - 128 = -127.5 -> -127 (toward zero: NOT uint8 - 128 = -128); 384 - 128 = 256 -> low
        // byte 0; -1 - 128 = -129 -> 0xFFFFFF7F -> 127 (wraps); 255 - 128 = 127; inf/NaN -> 0.
        Assert.Equal([0, 0, 0, 0], q.IntegerRow(0));
        Assert.Equal([-127, -127, 0, 0], q.IntegerRow(1));
        Assert.Equal([127, 127, 127, 0], q.IntegerRow(2));
        Assert.Equal([0, 0, 0, 0], q.SignedRow(0).ToArray().Select(b => (int)b));
        Assert.Equal("|i1", q.Precision.NumpyDescr());
    }

    [Fact]
    public void WithoutRangesTheEmbeddingsCalibrateThemselvesInFloat32()
    {
        float[][] e = [[1f, -2f], [3f, 0f], [2f, -1f]];
        // min = [1, -2], max = [3, 0]; step = 2/255 = 0.00784313725... rounds in float32 to 0x3C008081 = 0.0078431377
        // (just above), so row 1: 2 / 0.0078431377 = 254.99998 -> 254 (not 255) and row 2: 1 / 0.0078431377 = 127.49999 -> 127.
        var u = EmbeddingQuantizer.Quantize(e, EmbeddingPrecision.UInt8);
        Assert.Equal([0, 0], u.IntegerRow(0));
        Assert.Equal([254, 254], u.IntegerRow(1));
        Assert.Equal([127, 127], u.IntegerRow(2));
        // int8: 0 - 128 = -128; 254.99998 - 128 = 126.99998 -> 126; 127.49999 - 128 = -0.50001 -> 0 (toward zero).
        var i = EmbeddingQuantizer.Quantize(e, EmbeddingPrecision.Int8);
        Assert.Equal([-128, -128], i.IntegerRow(0));
        Assert.Equal([126, 126], i.IntegerRow(1));
        Assert.Equal([0, 0], i.IntegerRow(2));
        Assert.Equal(0, i.ValuesOutsideRange);
        // The same with the ranges given explicitly, and from calibration embeddings.
        var explicitRanges = EmbeddingQuantizer.Quantize(e, EmbeddingPrecision.Int8, new QuantizationRanges([1f, -2f], [3f, 0f]));
        Assert.True(explicitRanges.Data.SequenceEqual(i.Data));
        var calibrated = EmbeddingQuantizer.Quantize(e, EmbeddingPrecision.Int8, QuantizationRanges.FromEmbeddings([[3f, 0f], [1f, -2f]]));
        Assert.True(calibrated.Data.SequenceEqual(i.Data));
    }

    [Fact]
    public void ASingleVectorCannotCalibrate()
    {
        // min = max in every dimension: step 0, (x - min) / 0 = 0/0 = NaN -> 0 for uint8 and int8 alike.
        var q = EmbeddingQuantizer.Quantize([[0.25f, -0.5f, 0.75f]], EmbeddingPrecision.Int8);
        Assert.Equal([0, 0, 0], q.IntegerRow(0));
        Assert.Equal(3, q.ValuesOutsideRange);
    }

    [Fact]
    public void BinaryPacksSignBitsBigEndianLikeNumpyPackbits()
    {
        float[] x = [0.5f, -1f, 0f, 2f, -0f, 1e-30f, -3f, 4f, 0.1f, float.NaN, 0, 0, 0, 0, 0, 0];
        // x > 0: 1 0 0 1 0 1 0 1 | 1 0 0 0 0 0 0 0 (0, -0 and NaN are not > 0) -> 0b10010101 = 149, 0b10000000 = 128.
        var u = EmbeddingQuantizer.Quantize([x], EmbeddingPrecision.UBinary);
        Assert.Equal([149, 128], u.IntegerRow(0));
        Assert.Equal("|u1", u.Precision.NumpyDescr());
        // binary = ubinary - 128 as int8: 21, 0.
        var b = EmbeddingQuantizer.Quantize([x, Enumerable.Repeat(1f, 16).ToArray(), Enumerable.Repeat(-1f, 16).ToArray()], EmbeddingPrecision.Binary);
        Assert.Equal([21, 0], b.IntegerRow(0));
        Assert.Equal([127, 127], b.IntegerRow(1));   // 255 - 128
        Assert.Equal([-128, -128], b.IntegerRow(2)); // 0 - 128
        Assert.Equal(2, b.RowLength);
        Assert.Equal(16, b.Dimensions);
    }

    [Fact]
    public void BinaryPadsEachRowWhenTheDimensionIsNotAMultipleOfEight()
    {
        // 10 dimensions -> 2 bytes a row, the last 6 bits zero (np.packbits(x > 0, axis=-1)).
        var u = EmbeddingQuantizer.Quantize([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [-1, -1, -1, -1, -1, -1, -1, -1, -1, 1]], EmbeddingPrecision.UBinary);
        Assert.Equal([255, 0b1100_0000], u.IntegerRow(0));
        Assert.Equal([0, 0b0100_0000], u.IntegerRow(1));
    }

    [Fact]
    public void Float32KeepsTheVector()
    {
        float[] v = [0.1f, -2.5f, float.Epsilon];
        var q = EmbeddingQuantizer.Quantize([v], EmbeddingPrecision.Float32);
        Assert.Equal(v, q.FloatRow(0));
        Assert.Equal(12, q.RowBytes);
        Assert.Equal("<f4", q.Precision.NumpyDescr());
    }

    [Theory]
    [InlineData(300.5f, 44)]     // 300 = 0x12C -> 0x2C
    [InlineData(-3.7f, 253)]     // -3 = 0xFFFFFFFD
    [InlineData(256f, 0)]
    [InlineData(255.9f, 255)]
    [InlineData(-0.9f, 0)]
    [InlineData(-129.5f, 127)]   // -129 = 0xFFFFFF7F
    [InlineData(3e9f, 0)]        // past int32: 0x80000000
    [InlineData(-1e10f, 0)]
    [InlineData(float.NaN, 0)]
    [InlineData(float.PositiveInfinity, 0)]
    public void CastToByteIsNumpysX64Cast(float v, int expected) => Assert.Equal(expected, VectorOps.CastToByte(v));

    [Fact]
    public void PackSignBitsAndHammingAgreeWithBitByBitReferencesOnEveryLength()
    {
        var rng = new Random(5);
        for (int n = 0; n <= 133; n++)
        {
            var a = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var b = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var pa = new byte[(n + 7) / 8];
            var pb = new byte[(n + 7) / 8];
            VectorOps.PackSignBits(a, pa);
            VectorOps.PackSignBits(b, pb);
            int differ = 0;
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(a[i] > 0, (pa[i / 8] >> (7 - i % 8) & 1) == 1);
                differ += (a[i] > 0) != (b[i] > 0) ? 1 : 0;
            }
            Assert.Equal(differ, VectorOps.HammingDistance(pa, pb));
        }
    }

    [Fact]
    public void BadInputsAreRefusedWithClearMessages()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingQuantizer.Quantize([[1f, 2f], [1f]], EmbeddingPrecision.Int8));
        Assert.Contains("Embedding 2 has 1 values", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingQuantizer.Quantize([[1f, 2f]], EmbeddingPrecision.Int8, new QuantizationRanges([0f, 0f, 0f], [1f, 1f, 1f])));
        Assert.Contains("3 dimensions", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingQuantizer.Quantize([[1f, 2f]], EmbeddingPrecision.Binary, new QuantizationRanges([0f, 0f], [1f, 1f])));
        Assert.Contains("int8 and uint8 only", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => new QuantizationRanges([0f, 2f], [1f, 1f]));
        Assert.Contains("dimension 1", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => QuantizationRanges.FromEmbeddings([[0f, 1f], [float.NaN, 1f]], "cal.json"));
        Assert.Contains("cal.json: row 2, column 1", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingPrecisions.Parse("int4"));
        Assert.Contains("float32, int8, uint8, binary, ubinary", e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void EncodeQuantizedEqualsQuantizeOfEncode()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        string[] texts = ["Mars is red.", "Venus is hot.", "Jupiter is large.", "Saturn has rings."];
        var floats = model.Encode(texts, EncodeOptions.Document);
        foreach (var p in Enum.GetValues<EmbeddingPrecision>())
        {
            var a = model.EncodeQuantized(texts, p, EncodeOptions.Document);
            Assert.True(a.Data.SequenceEqual(EmbeddingQuantizer.Quantize(floats, p).Data), p.Name());
            Assert.Equal(4, a.Count);
            Assert.Equal(p.RowBytes(model.Dimensions) * 4, a.Data.Length);
        }
    }

    [Fact]
    public void NpyReadsTheFuzzSeedsAsNumpyDoes()
    {
        // fuzz/corpus/npy/ (written by fuzz/EmbeddingGemma.Fuzz seeds; numpy.load reads these four the same way).
        string Seed(string name) => Path.Combine(TestPaths.RepoRoot, "fuzz", "corpus", "npy", name);
        Assert.Equal([1f, -2f], NpyFile.ReadFloatMatrix(Seed("big-endian.npy"))[0]);             // >f4 3F800000, C0000000
        var half = NpyFile.ReadFloatMatrix(Seed("f2-2x2.npy"));                                    // <f2 3C00 BC00 3800 7BFF
        Assert.Equal([1f, -1f], half[0]);
        Assert.Equal([0.5f, 65504f], half[1]);
        Assert.Equal([0f, 0f, 0f], NpyFile.ReadFloatMatrix(Seed("v2-1d.npy"))[0]);              // version 2.0 header, shape (3,), zero bytes
        Assert.Equal([0.1f, -2f], NpyFile.ReadFloatMatrix(Seed("f8-1x2.npy"))[0]);
        foreach (var bad in new[] { "fortran.npy", "huge-shape.npy", "i1.npy", "truncated.npy" })
        {
            var e = Assert.Throws<EmbeddingGemmaException>(() => NpyFile.ReadFloatMatrix(Seed(bad)));
            Assert.Contains(bad, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void NpyReaderSurvivesEveryTruncationAndHeaderByteChange()
    {
        using var ms = new MemoryStream();
        NpyFile.Write(ms, "<f4", 2, 3, new byte[24]);
        var good = ms.ToArray();
        for (int n = 0; n < good.Length; n++)
        {
            Assert.Throws<EmbeddingGemmaException>(() => NpyFile.ReadFloatMatrix(good.AsSpan(0, n), "cut.npy"));
        }
        byte[] values = [0, 1, (byte)'(', (byte)')', (byte)',', (byte)'9', (byte)'\'', (byte)'<', 0x7F, 0xFF];
        for (int i = 0; i < 128; i++)
        {
            foreach (var v in values)
            {
                var m = (byte[])good.Clone();
                m[i] = v;
                try
                {
                    var rows = NpyFile.ReadFloatMatrix(m, "m.npy");
                    Assert.True(rows.Sum(r => r.Length) * 4 <= 24, "never more values than data bytes");
                }
                catch (EmbeddingGemmaException)
                {
                    // the only failure allowed
                }
            }
        }
    }

    [Fact]
    public void NpyRoundTripsAndRefusesBadFiles()
    {
        float[][] rows = [[1f, -2.5f, 3f], [0.25f, 0f, -1e-3f]];
        var q = EmbeddingQuantizer.Quantize(rows, EmbeddingPrecision.Float32);
        using var ms = new MemoryStream();
        NpyFile.Write(ms, "<f4", 2, 3, q.Data);
        var bytes = ms.ToArray();
        Assert.Equal(0, (bytes.Length - 24) % 64); // header padded to 64 bytes; 24 data bytes
        var back = NpyFile.ReadFloatMatrix(bytes, "x.npy");
        Assert.Equal(rows[0], back[0]);
        Assert.Equal(rows[1], back[1]);

        // A float64 file (numpy's default dtype) is read and rounded to float32.
        using var ms64 = new MemoryStream();
        var f64 = new byte[16];
        BitConverter.TryWriteBytes(f64.AsSpan(0), 0.1);
        BitConverter.TryWriteBytes(f64.AsSpan(8), -2.0);
        NpyFile.Write(ms64, "<f8", 1, 2, f64);
        Assert.Equal([0.1f, -2f], NpyFile.ReadFloatMatrix(ms64.ToArray(), "y.npy")[0]);

        var e = Assert.Throws<EmbeddingGemmaException>(() => NpyFile.ReadFloatMatrix(bytes.AsSpan(0, bytes.Length - 1), "cut.npy"));
        Assert.Contains("cut.npy", e.Message, StringComparison.Ordinal);
        Assert.Contains("needs 24 data bytes", e.Message, StringComparison.Ordinal);
        using var msInt = new MemoryStream();
        NpyFile.Write(msInt, "|i1", 1, 2, [1, 2]);
        e = Assert.Throws<EmbeddingGemmaException>(() => NpyFile.ReadFloatMatrix(msInt.ToArray(), "int.npy"));
        Assert.Contains("dtype '|i1'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => NpyFile.ReadFloatMatrix("not numpy at all"u8, "t.npy"));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
    }
}

/// <summary>The C# example of README "## Output precision", verbatim between the markers.</summary>
public sealed class PrecisionReadmeExampleTests
{
    [Fact]
    public void ReadmePrecisionExampleRuns()
    {
        var folder = TinyModels.Default.Folder;
        // PRECISION-README-BEGIN
        using var model = EmbeddingGemmaModel.Load(folder);
        string[] corpus = ["Mars is red.", "Venus is hot.", "Jupiter is large.", "Saturn has rings."];
        float[][] vectors = model.Encode(corpus, EncodeOptions.Document);
        var ranges = QuantizationRanges.FromEmbeddings(vectors);     // calibrate once, on many vectors in practice
        QuantizedEmbeddings int8 = EmbeddingQuantizer.Quantize(vectors, EmbeddingPrecision.Int8, ranges);
        QuantizedEmbeddings bits = model.EncodeQuantized(corpus, EmbeddingPrecision.UBinary, EncodeOptions.Document);
        int[] row = int8.IntegerRow(0);                              // -128..127, one value per dimension
        ReadOnlySpan<byte> packed = bits.RowData(0);                 // ceil(dim / 8) bytes, dimension 0 in the top bit
        Console.WriteLine($"{row.Length} {packed.Length} {int8.ValuesOutsideRange} {bits.Data.Length}");
        // PRECISION-README-END
        Assert.Equal(model.Dimensions, row.Length);
        Assert.Equal(model.Dimensions / 8, packed.Length);
        Assert.Equal(4 * model.Dimensions / 8, bits.Data.Length);
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var source = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "tests/EmbeddingGemma.Tests/Embeddings/PrecisionTests.cs"));
        var begin = source.IndexOf("// PRECISION-README-BEGIN", StringComparison.Ordinal);
        var end = source.IndexOf("        // PRECISION-README-END", StringComparison.Ordinal);
        foreach (var line in source[begin..end].Split('\n').Skip(1).Select(l => l.Length >= 8 ? l[8..] : l.Trim()).Where(l => l.Length > 0))
        {
            Assert.Contains(line.TrimEnd('\r'), readme, StringComparison.Ordinal);
        }
    }
}
