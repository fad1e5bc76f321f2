namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// BM25 parameters. Defaults are Lucene/Elasticsearch's (k1 = 1.2, b = 0.75), the setting BEIR's published BM25 used.
/// <see cref="MultiField"/>: index title and text as separate fields and combine them as Elasticsearch's
/// <c>multi_match</c> <c>best_fields</c> query with <c>tie_breaker</c> 0.5 does (best field + 0.5 × the other), which is
/// how BEIR's BM25 baseline queried its index; otherwise "title text" is one field ("flat").
/// </summary>
public sealed record Bm25Options(double K1 = 1.2, double B = 0.75, bool EnglishAnalysis = true, bool MultiField = false, double TieBreaker = 0.5);

/// <summary>
/// An in-memory BM25 index over documents (Lucene's formula: idf = ln(1 + (N − df + 0.5)/(df + 0.5)),
/// tf part = tf·(k1 + 1)/(tf + k1·(1 − b + b·len/avglen)); a query term repeated in the query counts once per occurrence,
/// as repeated clauses do in a Lucene boolean query).
/// </summary>
public sealed class Bm25Index
{
    private readonly Dictionary<string, List<(int Doc, int Tf)>> _postings = new(StringComparer.Ordinal);
    private readonly int[] _lengths;
    private readonly double _avgLength;
    private readonly Bm25Options _options;
    private readonly LexicalTokenizer _tokenizer;

    public Bm25Index(IReadOnlyList<string> documents, Bm25Options? options = null)
    {
        _options = options ?? new Bm25Options();
        _tokenizer = new LexicalTokenizer(_options.EnglishAnalysis);
        _lengths = new int[documents.Count];
        for (int d = 0; d < documents.Count; d++)
        {
            var tokens = _tokenizer.Tokenize(documents[d]);
            _lengths[d] = tokens.Count;
            foreach (var g in tokens.GroupBy(t => t, StringComparer.Ordinal))
            {
                if (!_postings.TryGetValue(g.Key, out var list))
                {
                    _postings[g.Key] = list = [];
                }
                list.Add((d, g.Count()));
            }
        }
        _avgLength = documents.Count == 0 ? 0 : _lengths.Average();
    }

    public int DocumentCount => _lengths.Length;

    /// <summary>BM25 score of every document for the query (0 for documents sharing no term).</summary>
    public double[] Score(string query)
    {
        var scores = new double[_lengths.Length];
        int n = _lengths.Length;
        foreach (var term in _tokenizer.Tokenize(query))
        {
            if (!_postings.TryGetValue(term, out var list))
            {
                continue;
            }
            double idf = Math.Log(1 + (n - list.Count + 0.5) / (list.Count + 0.5));
            foreach (var (doc, tf) in list)
            {
                double norm = _options.K1 * (1 - _options.B + _options.B * _lengths[doc] / _avgLength);
                scores[doc] += idf * tf * (_options.K1 + 1) / (tf + norm);
            }
        }
        return scores;
    }
}
