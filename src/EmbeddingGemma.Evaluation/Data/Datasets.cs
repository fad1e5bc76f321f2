namespace EmbeddingGemma.Evaluation.Data;

/// <summary>A corpus document (BEIR <c>_id</c>, <c>title</c>, <c>text</c>).</summary>
public sealed record CorpusDocument(string Id, string Title, string Text);

/// <summary>A query (BEIR <c>_id</c>, <c>text</c>).</summary>
public sealed record RetrievalQuery(string Id, string Text);

/// <summary>
/// A retrieval set: corpus, the queries that have judgements, and graded relevance judgements
/// (query id -&gt; document id -&gt; grade; grade &gt;= 1 counts as relevant, as in trec_eval's default relevance level).
/// </summary>
public sealed record RetrievalDataset(
    string Name,
    IReadOnlyList<CorpusDocument> Corpus,
    IReadOnlyList<RetrievalQuery> Queries,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Qrels);

/// <summary>One sentence pair with a gold similarity score.</summary>
public sealed record StsPair(string Text1, string Text2, double Score);

/// <summary>An STS set.</summary>
public sealed record StsDataset(string Name, IReadOnlyList<StsPair> Pairs);

/// <summary>A text with its class label.</summary>
public sealed record LabeledText(string Text, string Label);

/// <summary>A classification set: a train split (the pool few-shot train sets are drawn from) and a test split.</summary>
public sealed record ClassificationDataset(string Name, IReadOnlyList<LabeledText> Train, IReadOnlyList<LabeledText> Test);

/// <summary>A clustering set: texts with their gold cluster labels (k = number of distinct labels).</summary>
public sealed record ClusteringDataset(string Name, IReadOnlyList<LabeledText> Items);

/// <summary>A sentence pair with a binary label (true = positive, e.g. paraphrase / duplicate).</summary>
public sealed record LabeledPair(string Text1, string Text2, bool Label);

/// <summary>A pair classification set.</summary>
public sealed record PairClassificationDataset(string Name, IReadOnlyList<LabeledPair> Pairs);

/// <summary>One reranking sample: a query and its candidate documents split into positives and negatives.</summary>
public sealed record RerankingSample(string Query, IReadOnlyList<string> Positives, IReadOnlyList<string> Negatives);

/// <summary>A reranking set.</summary>
public sealed record RerankingDataset(string Name, IReadOnlyList<RerankingSample> Samples);
