using EmbeddingGemma.Search.Vectors;

namespace EmbeddingGemma.Search.Tests;

public class VectorKernelTests
{
    /// <summary>Float sums in a different order differ by rounding: |error| <= n * eps * sum|x*y| (a loose a-priori bound).</summary>
    private static float DotTolerance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double abs = 0;
        for (int i = 0; i < x.Length; i++)
        {
            abs += Math.Abs(x[i] * y[i]);
        }
        return (float)(x.Length * 1.2e-7 * abs) + 1e-30f;
    }

    [Fact]
    public void Simd_dot_matches_scalar_reference_on_every_length_0_to_256()
    {
        var rng = new Random(1);
        for (int n = 0; n <= 256; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float expected = VectorKernels.DotScalar(x, y);
            Assert.True(Math.Abs(VectorKernels.Dot(x, y) - expected) <= DotTolerance(x, y), $"length {n}");
        }
    }

    [Fact]
    public void Int8_dot_equals_scalar_reference_exactly_on_every_length_0_to_256()
    {
        var rng = new Random(2);
        for (int n = 0; n <= 256; n++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            Assert.Equal(VectorKernels.DotInt8Scalar(x, y), VectorKernels.DotInt8(x, y));
        }
    }

    [Fact]
    public void Dot_rejects_different_lengths()
    {
        Assert.Throws<ArgumentException>(() => VectorKernels.Dot(new float[3], new float[4]));
    }

    [Fact]
    public void Int8_quantization_error_is_at_most_half_a_step()
    {
        var rng = new Random(3);
        var x = Data.RandomUnit(rng, 768);
        var q = new sbyte[768];
        float scale = Int8Matrix.Quantize(x, q);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(Math.Abs(x[i] - q[i] * scale) <= scale / 2 + 1e-7f, $"element {i}");
        }
    }
}
