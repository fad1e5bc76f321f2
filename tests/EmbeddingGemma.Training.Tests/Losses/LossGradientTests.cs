using EmbeddingGemma.Training.Losses;

namespace EmbeddingGemma.Training.Tests.Losses;

/// <summary>
/// Every loss against fp64 central finite differences with respect to every embedding entry, and against its
/// definition evaluated by hand on a small case. Fourth-order central differences, step h = 1e-4; tolerance 1e-7
/// relative per entry (issue 13), floor 1e-4 (entries below it: absolute 1e-11). Embeddings are random, not unit length (the losses normalize themselves, like sentence-transformers'
/// cos_sim), of odd size 13; hinge losses are checked away from their kink.
/// </summary>
public class LossGradientTests
{
    private const double H = 1e-4;
    private const double Tolerance = 1e-7;
    private const double Floor = 1e-4;

    private static double[][][] RandomColumns(int seed, int columns, int rows, int dim)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, columns).Select(_ => Enumerable.Range(0, rows).Select(_ => GradCheck.RandomArray(rng, dim)).ToArray()).ToArray();
    }

    private static void CheckAll(EmbeddingLoss loss, double[][][] columns, double[]? labels)
    {
        var g = EmbeddingLoss.ZeroGradients(columns);
        loss.Compute(columns, labels, g);
        double F() => loss.Compute(columns, labels, EmbeddingLoss.ZeroGradients(columns));
        for (var c = 0; c < columns.Length; c++)
        {
            for (var i = 0; i < columns[c].Length; i++)
            {
                GradCheck.Check($"{loss.Name} column {c} row {i}", F, columns[c][i], g[c][i], H, Tolerance, Floor);
            }
        }
    }

    private static double Cos(double[] a, double[] b) =>
        GradCheck.Dot(a, b) / Math.Sqrt(GradCheck.Dot(a, a)) / Math.Sqrt(GradCheck.Dot(b, b));

    [Fact]
    public void CosineSimilarityLoss_is_mse_on_cosine()
    {
        var cols = RandomColumns(1, 2, 5, 13);
        double[] labels = [0.9, -0.2, 0.4, 0.0, 1.0];
        var expected = Enumerable.Range(0, 5).Average(i => Math.Pow(Cos(cols[0][i], cols[1][i]) - labels[i], 2));
        Assert.Equal(expected, new CosineSimilarityLoss().Compute(cols, labels, EmbeddingLoss.ZeroGradients(cols)), 14);
        CheckAll(new CosineSimilarityLoss(), cols, labels);
    }

    [Fact]
    public void CosineTripletLoss_margin_half()
    {
        var cols = RandomColumns(2, 3, 5, 13);
        var loss = new CosineTripletLoss();
        Assert.Equal(0.5, loss.Margin);
        var expected = Enumerable.Range(0, 5).Average(i => Math.Max(0, Cos(cols[0][i], cols[2][i]) - Cos(cols[0][i], cols[1][i]) + 0.5));
        Assert.Equal(expected, loss.Compute(cols, null, EmbeddingLoss.ZeroGradients(cols)), 14);
        // the random triplets put some rows on each side of the hinge
        var active = Enumerable.Range(0, 5).Count(i => Cos(cols[0][i], cols[2][i]) - Cos(cols[0][i], cols[1][i]) + 0.5 > 0);
        Assert.InRange(active, 1, 4);
        CheckAll(loss, cols, null);
    }

    [Fact]
    public void TripletLoss_euclidean_margin_five()
    {
        var cols = RandomColumns(3, 3, 4, 13);
        var loss = new TripletLoss(margin: 0.3);   // 5 (the default) keeps every row active on random data; 0.3 exercises the hinge
        Assert.Equal(5.0, new TripletLoss().Margin);
        static double D(double[] x, double[] y) => Math.Sqrt(x.Zip(y, (a, b) => Math.Pow(a - b + 1e-6, 2)).Sum());
        var expected = Enumerable.Range(0, 4).Average(i => Math.Max(0, D(cols[0][i], cols[1][i]) - D(cols[0][i], cols[2][i]) + 0.3));
        Assert.Equal(expected, loss.Compute(cols, null, EmbeddingLoss.ZeroGradients(cols)), 13);
        CheckAll(loss, cols, null);
        CheckAll(new TripletLoss(), cols, null);
    }

    [Theory]
    [InlineData(2)]   // anchor, positive: in-batch negatives only
    [InlineData(3)]   // anchor, positive, hard negative (a triplet's negative)
    [InlineData(4)]   // two hard negatives per anchor
    public void MultipleNegativesRankingLoss_scale_20_with_hard_negatives(int columnCount)
    {
        var cols = RandomColumns(4 + columnCount, columnCount, 4, 13);
        var loss = new MultipleNegativesRankingLoss();
        Assert.Equal(20.0, loss.Scale);
        var candidates = cols.Skip(1).SelectMany(c => c).ToArray();
        var expected = Enumerable.Range(0, 4).Average(i =>
        {
            var s = candidates.Select(c => 20 * Cos(cols[0][i], c)).ToArray();
            return Math.Log(s.Sum(Math.Exp)) - s[i];
        });
        Assert.Equal(expected, loss.Compute(cols, null, EmbeddingLoss.ZeroGradients(cols)), 12);
        CheckAll(loss, cols, null);
    }

    [Fact]
    public void CoSentLoss_scale_20()
    {
        var cols = RandomColumns(8, 2, 5, 13);
        double[] labels = [0.1, 0.8, 0.5, 0.5, 0.3];   // a tie: (2, 3) is no pair
        var loss = new CoSentLoss();
        var c = Enumerable.Range(0, 5).Select(i => Cos(cols[0][i], cols[1][i])).ToArray();
        var sum = 1.0;
        for (var i = 0; i < 5; i++)
        {
            for (var j = 0; j < 5; j++)
            {
                if (labels[i] < labels[j])
                {
                    sum += Math.Exp(20 * (c[i] - c[j]));
                }
            }
        }
        Assert.Equal(Math.Log(sum), loss.Compute(cols, labels, EmbeddingLoss.ZeroGradients(cols)), 12);
        CheckAll(loss, cols, labels);
    }

    [Fact]
    public void MatryoshkaLoss_sums_the_base_loss_over_prefixes()
    {
        var cols = RandomColumns(9, 3, 4, 13);
        var mnrl = new MultipleNegativesRankingLoss();
        var loss = new MatryoshkaLoss(mnrl, [13, 8, 4, 1], [1.0, 0.5, 2.0, 1.0]);
        var expected = new[] { 13, 8, 4, 1 }.Zip([1.0, 0.5, 2.0, 1.0], (k, w) =>
            w * mnrl.Compute(cols.Select(c => c.Select(e => e[..k]).ToArray()).ToArray(), null,
                EmbeddingLoss.ZeroGradients(cols.Select(c => c.Select(e => e[..k]).ToArray()).ToArray()))).Sum();
        Assert.Equal(expected, loss.Compute(cols, null, EmbeddingLoss.ZeroGradients(cols)), 12);
        CheckAll(loss, cols, null);
        Assert.Equal([768, 512, 256, 128], new MatryoshkaLoss(mnrl).Dimensions);
        CheckAll(new MatryoshkaLoss(new CoSentLoss(), [13, 5]), RandomColumns(10, 2, 4, 13), [0.2, 0.9, 0.4, 0.6]);
    }
}
