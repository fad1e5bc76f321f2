using EmbeddingGemma.Evaluation.Learners;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Tests;

public class LearnerTests
{
    private static List<(float[] X, int Y)> Blobs(int perClass, int classes, int dims, double spread, int seed)
    {
        var rng = new Random(seed);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, dims).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray()).ToArray();
        var data = new List<(float[], int)>();
        for (int c = 0; c < classes; c++)
        {
            for (int i = 0; i < perClass; i++)
            {
                data.Add((VectorOps.Truncate(centres[c].Select(v => v + (float)((rng.NextDouble() - 0.5) * spread)).ToArray(), dims), c));
            }
        }
        return data;
    }

    [Fact]
    public void Logistic_regression_separates_well_separated_classes_and_is_at_chance_on_noise()
    {
        var train = Blobs(8, 5, 32, 0.2, 1);
        var test = Blobs(40, 5, 32, 0.2, 1); // same centres (same seed); beyond the first 8 rows of class 0, fresh noise draws
        var model = LogisticRegression.Fit(train.Select(t => t.X).ToList(), train.Select(t => t.Y).ToList(), 5);
        Assert.Equal(1.0, ClassificationMetrics.Accuracy(test.Select(t => t.Y).ToList(), test.Select(t => model.Predict(t.X)).ToList()), 3);

        // Labels independent of the features: accuracy on fresh data must stay near 1/5 (binomial sd ~ 0.02 for 400 items).
        var rng = new Random(7);
        var noise = Enumerable.Range(0, 400).Select(_ => (VectorOps.Truncate(Enumerable.Range(0, 32).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), 32), rng.Next(5))).ToList();
        var m2 = LogisticRegression.Fit(noise.Take(40).Select(t => t.Item1).ToList(), noise.Take(40).Select(t => t.Item2).ToList(), 5);
        var acc = ClassificationMetrics.Accuracy(noise.Skip(40).Select(t => t.Item2).ToList(), noise.Skip(40).Select(t => m2.Predict(t.Item1)).ToList());
        Assert.InRange(acc, 0.10, 0.30);
    }

    [Fact]
    public void Kmeans_recovers_separated_blobs()
    {
        var data = Blobs(30, 4, 16, 0.1, 3);
        var clusters = KMeans.Cluster(data.Select(d => d.X).ToList(), 4, seed: 1);
        Assert.Equal(1.0, VMeasure.Compute(data.Select(d => d.Y).ToList(), clusters).VMeasure, 9);
    }

    [Fact]
    public void Matryoshka_truncation_renormalises()
    {
        var v = VectorOps.Truncate([3, 4, 12], 2);
        Assert.Equal([0.6f, 0.8f], v);
        Assert.Equal([0f, 0f], VectorOps.Truncate([0, 0, 1], 2));
    }
}

public class LexicalTests
{
    [Fact]
    public void Bm25_score_matches_the_formula_by_hand()
    {
        // Docs "x y" and "x z z" (no stemming): query "z". N = 2, df = 1: idf = ln(1 + 1.5/1.5) = ln 2.
        // doc 2: tf 2, len 3, avg len 2.5: 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2.5)) = 4.4 / 3.38.
        var index = new Bm25Index(["x y", "x z z"], new Bm25Options(EnglishAnalysis: false));
        var s = index.Score("z");
        Assert.Equal(0.0, s[0]);
        Assert.Equal(Math.Log(2) * 4.4 / 3.38, s[1], 1e-12);
        // "x" is in both docs: idf = ln(1 + 0.5/2.5); doc 1 (shorter) scores higher.
        var sx = index.Score("x");
        Assert.True(sx[0] > sx[1]);
    }

    [Theory]
    [InlineData("caresses", "caress")]
    [InlineData("ponies", "poni")]
    [InlineData("cats", "cat")]
    [InlineData("feed", "feed")]
    [InlineData("agreed", "agre")]
    [InlineData("plastered", "plaster")]
    [InlineData("motoring", "motor")]
    [InlineData("sing", "sing")]
    [InlineData("hopping", "hop")]
    [InlineData("falling", "fall")]
    [InlineData("filing", "file")]
    [InlineData("happy", "happi")]
    [InlineData("relational", "relat")]
    [InlineData("conditional", "condit")]
    [InlineData("generalizations", "gener")]
    [InlineData("oscillators", "oscil")]
    [InlineData("controlling", "control")]
    [InlineData("adjustment", "adjust")]
    [InlineData("effective", "effect")]
    public void Porter_stemmer_gives_the_papers_outputs(string word, string stem) => Assert.Equal(stem, PorterStemmer.Stem(word));

    [Fact]
    public void Tokenizer_splits_cjk_into_unigrams_and_bigrams_and_drops_stop_words()
    {
        Assert.Equal(["机", "器", "机器"], new LexicalTokenizer().Tokenize("机器"));
        Assert.Equal(["cat", "run"], new LexicalTokenizer(englishAnalysis: true).Tokenize("The cats are running"));
    }
}
