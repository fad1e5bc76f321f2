using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Clustering;
using MathNet.Numerics.LinearAlgebra;

namespace EmbeddingGemma.Search.Tests;

public class ClusteringTests
{
    private static (float[][] Vectors, int[] Truth) Separated(int perCluster, int k, int dim, int seed, double noise)
    {
        var rng = new Random(seed);
        var centres = Enumerable.Range(0, k).Select(_ => Data.RandomUnit(rng, dim)).ToArray();
        var vectors = new List<float[]>();
        var truth = new List<int>();
        for (int c = 0; c < k; c++)
        {
            for (int i = 0; i < perCluster; i++)
            {
                var v = centres[c].Select(x => (float)(x + noise * (rng.NextDouble() * 2 - 1))).ToArray();
                VectorOps.L2Normalize(v);
                vectors.Add(v);
                truth.Add(c);
            }
        }
        return (vectors.ToArray(), truth.ToArray());
    }

    [Fact]
    public void Kmeans_recovers_well_separated_clusters_and_is_reproducible()
    {
        var (x, truth) = Separated(100, 6, 48, seed: 3, noise: 0.08);
        var a = SphericalKMeans.Fit(x, 6, seed: 42);
        var b = SphericalKMeans.Fit(x, 6, seed: 42);
        double ari = ClusterMetrics.AdjustedRandIndex(truth, a.Labels);
        Assert.True(ari >= 0.99, $"ARI = {ari}");
        Assert.True(ClusterMetrics.VMeasure(truth, a.Labels).VMeasure >= 0.99);
        Assert.Equal(a.Labels, b.Labels);
        Assert.True(ClusterMetrics.Silhouette(x, a.Labels) > 0.5);
    }

    [Fact]
    public void Kmeans_rejects_bad_k()
    {
        var (x, _) = Separated(3, 2, 8, 1, 0.1);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => SphericalKMeans.Fit(x, 0)).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => SphericalKMeans.Fit(x, 7)).Kind);
    }

    [Fact]
    public void Ari_and_v_measure_match_hand_computed_values()
    {
        // truth {0,0,1,1}, predicted {0,0,1,2}: homogeneity 1, completeness 2/3, V = 0.8; ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7.
        int[] truth = [0, 0, 1, 1], pred = [0, 0, 1, 2];
        Assert.Equal(4.0 / 7, ClusterMetrics.AdjustedRandIndex(truth, pred), 12);
        var (h, c, v) = ClusterMetrics.VMeasure(truth, pred);
        Assert.Equal(1.0, h, 12);
        Assert.Equal(2.0 / 3, c, 12);
        Assert.Equal(0.8, v, 12);
        // Label names do not matter.
        Assert.Equal(1.0, ClusterMetrics.AdjustedRandIndex([0, 0, 1, 1, 2], [5, 5, 3, 3, 9]), 12);
    }

    [Fact]
    public void Silhouette_matches_a_direct_double_precision_computation()
    {
        var (x, truth) = Separated(15, 3, 10, seed: 5, noise: 0.5);
        double expected = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double Dist(int j) => 1 - x[i].Zip(x[j], (p, q) => (double)p * q).Sum();
            var others = Enumerable.Range(0, x.Length).Where(j => j != i).ToList();
            double a = others.Where(j => truth[j] == truth[i]).Average(Dist);
            double b = Enumerable.Range(0, 3).Where(c => c != truth[i]).Min(c => others.Where(j => truth[j] == c).Average(Dist));
            expected += (b - a) / Math.Max(a, b);
        }
        expected /= x.Length;
        Assert.Equal(expected, ClusterMetrics.Silhouette(x, truth), 5);
    }

    [Fact]
    public void Pca_agrees_with_mathnet_eigen_decomposition()
    {
        // Anisotropic data with distinct leading variances (gaps make the eigenvectors well defined).
        var rng = new Random(7);
        int n = 400, d = 24;
        var data = new float[n][];
        for (int i = 0; i < n; i++)
        {
            data[i] = new float[d];
            for (int j = 0; j < d; j++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                data[i][j] = (float)(g * (j == 0 ? 5 : j == 1 ? 3 : 1.0 / (1 + j)) + 0.3 * j);
            }
            // Mix coordinates so the components are not axis-aligned.
            for (int j = 0; j + 1 < d; j += 2)
            {
                (data[i][j], data[i][j + 1]) = (0.8f * data[i][j] + 0.6f * data[i][j + 1], -0.6f * data[i][j] + 0.8f * data[i][j + 1]);
            }
        }
        var pca = Pca.Fit(data, 2);

        var m = Matrix<double>.Build.Dense(n, d, (i, j) => data[i][j]);
        var mean = m.ColumnSums() / n;
        var centred = Matrix<double>.Build.Dense(n, d, (i, j) => m[i, j] - mean[j]);
        var cov = centred.TransposeThisAndMultiply(centred) / (n - 1);
        var evd = cov.Evd(Symmetricity.Symmetric);
        var order = Enumerable.Range(0, d).OrderByDescending(i => evd.EigenValues[i].Real).ToArray();
        for (int c = 0; c < 2; c++)
        {
            double lambda = evd.EigenValues[order[c]].Real;
            Assert.Equal(lambda, pca.ExplainedVariance[c], lambda * 1e-9);
            var v = evd.EigenVectors.Column(order[c]);
            double cos = Math.Abs(Enumerable.Range(0, d).Sum(j => v[j] * pca.Components[c][j]));
            Assert.True(cos > 1 - 1e-9, $"component {c}: |cos| = {cos}");
        }
        Assert.Equal(cov.Trace(), pca.TotalVariance, 1e-9 * cov.Trace());
        // Projections are (x - mean) . component.
        Assert.Equal(Enumerable.Range(0, d).Sum(j => (data[5][j] - mean[j]) * pca.Components[1][j]), pca.Projected[5][1], 1e-9);
    }

    [Fact]
    public async Task Text_clusterer_groups_texts_by_shared_words_and_plots_them()
    {
        string[] texts =
        [
            "apple banana orange fruit salad", "banana orange fruit juice", "apple orange fruit market",
            "football basketball team match", "basketball team players match", "football team match goal",
            "gold oil price market rise", "oil price stock rise", "gold price stock market",
        ];
        int[] truth = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        var clusterer = new TextClusterer(new HashingEmbeddingGenerator(512), 3, seed: 42);
        var result = await clusterer.ClusterAsync(texts);
        Assert.Equal(1.0, ClusterMetrics.AdjustedRandIndex(truth, result.Labels), 9);
        Assert.Equal(9, result.Points2D.Length);

        var dir = EmbeddingGemma.Testing.TestPaths.NewTempDir("eg-plot");
        var png = Path.Combine(dir, "clusters.png");
        var outcome = ClusterPlot.SavePng(png, result.Points2D, result.Labels, ["苹果", "b", "c", "d", "e", "f", "g", "h", "i"]);
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, bytes[..4]);
        Assert.True(bytes.Length > 10_000);
        // CJK labels are drawn only with a CJK font; without one they become point numbers instead of boxes.
        Assert.Equal(ClusterPlot.FindFont() is null, outcome.LabelsReplacedByIndex);
        Directory.Delete(dir, true);
    }
}
