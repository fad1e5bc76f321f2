using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Evaluation.Tests;

/// <summary>The label-permutation control keeps texts and the label distribution, moves labels, and is seeded.</summary>
public class LabelShuffleTests
{
    [Fact]
    public void Classification_labels_are_permuted_within_each_split_keeping_counts()
    {
        var train = Enumerable.Range(0, 200).Select(i => new LabeledText($"t{i}", $"c{i % 5}")).ToList();
        var test = Enumerable.Range(0, 50).Select(i => new LabeledText($"s{i}", i < 40 ? "a" : "b")).ToList();
        var ds = new ClassificationDataset("x", train, test);
        var a = LabelShuffle.Apply(ds, 1);
        Assert.Equal(train.Select(t => t.Text), a.Train.Select(t => t.Text));
        Assert.Equal(train.Select(t => t.Label).Order(), a.Train.Select(t => t.Label).Order());
        Assert.Equal(test.Select(t => t.Label).Order(), a.Test.Select(t => t.Label).Order());
        Assert.True(a.Train.Zip(train).Count(p => p.First.Label != p.Second.Label) > 100, "most labels should move");
        Assert.Equal(a.Train, LabelShuffle.Apply(ds, 1).Train);   // seeded
        Assert.NotEqual(a.Train, LabelShuffle.Apply(ds, 2).Train);
    }

    [Fact]
    public void Retrieval_judgements_move_between_queries_and_reranking_keeps_counts()
    {
        var corpus = Enumerable.Range(0, 30).Select(i => new CorpusDocument($"d{i}", "", $"doc {i}")).ToList();
        var queries = Enumerable.Range(0, 30).Select(i => new RetrievalQuery($"q{i}", $"query {i}")).ToList();
        var qrels = queries.ToDictionary(q => q.Id, q => (IReadOnlyDictionary<string, int>)new Dictionary<string, int> { ["d" + q.Id[1..]] = 1 });
        var ds = new RetrievalDataset("r", corpus, queries, qrels);
        var s = LabelShuffle.Apply(ds, 3);
        Assert.Equal(qrels.Keys.Order(), s.Qrels.Keys.Order());
        Assert.Equal(qrels.Values.Select(v => v.Keys.Single()).Order(), s.Qrels.Values.Select(v => v.Keys.Single()).Order());
        Assert.True(s.Qrels.Count(kv => kv.Value.Keys.Single() != "d" + kv.Key[1..]) > 20);

        var rr = new RerankingDataset("k", [new RerankingSample("q", ["p1", "p2"], ["n1", "n2", "n3", "n4"])]);
        var t = LabelShuffle.Apply(rr, 4).Samples[0];
        Assert.Equal(2, t.Positives.Count);
        Assert.Equal(4, t.Negatives.Count);
        Assert.Equal(new[] { "n1", "n2", "n3", "n4", "p1", "p2" }, t.Positives.Concat(t.Negatives).Order());
    }
}
