namespace EmbeddingGemma.Evaluation.Data;

/// <summary>
/// Loads the BEIR layout: <c>corpus.jsonl[.gz]</c> (<c>_id</c>, <c>title</c>, <c>text</c>), <c>queries.jsonl[.gz]</c>
/// (<c>_id</c>, <c>text</c>) and <c>qrels/&lt;split&gt;.tsv[.gz]</c> (header <c>query-id corpus-id score</c>).
/// Like BEIR, only queries with judgements in the split are kept. Qrels naming a query or document that does not
/// exist, duplicate ids, malformed rows and empty splits are errors naming the file and line.
/// </summary>
public static class BeirLoader
{
    /// <summary>True when <paramref name="folder"/> looks like a BEIR folder (corpus and queries present).</summary>
    public static bool IsBeirFolder(string folder) =>
        Directory.Exists(folder)
        && TextFiles.Resolve(Path.Combine(folder, "corpus.jsonl")) is not null
        && TextFiles.Resolve(Path.Combine(folder, "queries.jsonl")) is not null;

    /// <summary>Loads a BEIR folder. <paramref name="queriesFolder"/> (optional) takes the queries from another
    /// folder with the same ids (cross-lingual retrieval: queries in one language, corpus in another).</summary>
    public static RetrievalDataset Load(string folder, string split = "test", string? name = null, string? queriesFolder = null)
    {
        if (!Directory.Exists(folder))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"BEIR folder not found: {folder}") { FilePath = folder };
        }
        var corpusPath = TextFiles.Require(Path.Combine(folder, "corpus.jsonl"), "BEIR corpus");
        var queriesPath = TextFiles.Require(Path.Combine(queriesFolder ?? folder, "queries.jsonl"), "BEIR queries");
        var qrelsPath = TextFiles.Require(Path.Combine(folder, "qrels", split + ".tsv"), $"BEIR qrels for split '{split}'");

        var corpus = new List<CorpusDocument>();
        var docIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (line, row) in TextFiles.ReadJsonLines(corpusPath))
        {
            var id = TextFiles.GetString(row, "_id", corpusPath, line, required: true)!;
            var title = TextFiles.GetString(row, "title", corpusPath, line, required: false) ?? "";
            var text = TextFiles.GetString(row, "text", corpusPath, line, required: true)!;
            if (!docIds.TryAdd(id, line))
            {
                throw TextFiles.Error(corpusPath, line, $"duplicate document id \"{id}\" (first on line {docIds[id]}).");
            }
            corpus.Add(new CorpusDocument(id, title, text));
        }
        if (corpus.Count == 0)
        {
            throw TextFiles.Error(corpusPath, 1, "the corpus is empty.");
        }

        var queries = new Dictionary<string, (RetrievalQuery Query, int Line)>(StringComparer.Ordinal);
        foreach (var (line, row) in TextFiles.ReadJsonLines(queriesPath))
        {
            var id = TextFiles.GetString(row, "_id", queriesPath, line, required: true)!;
            var text = TextFiles.GetString(row, "text", queriesPath, line, required: true)!;
            if (!queries.TryAdd(id, (new RetrievalQuery(id, text), line)))
            {
                throw TextFiles.Error(queriesPath, line, $"duplicate query id \"{id}\" (first on line {queries[id].Line}).");
            }
        }

        var qrels = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        bool first = true;
        foreach (var row in TextFiles.ReadTsv(qrelsPath))
        {
            var f = row.Fields;
            if (first)
            {
                first = false;
                if (f.Count >= 1 && f[0] == "query-id")
                {
                    continue;
                }
            }
            if (f.Count is not (3 or 4))
            {
                throw TextFiles.Error(qrelsPath, row.Line, $"expected 'query-id<TAB>corpus-id<TAB>score', found {f.Count} fields.");
            }
            // TREC style "qid 0 docid score" is accepted too.
            var (qid, did, scoreText) = f.Count == 3 ? (f[0], f[1], f[2]) : (f[0], f[2], f[3]);
            if (!int.TryParse(scoreText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var grade))
            {
                throw TextFiles.Error(qrelsPath, row.Line, $"relevance score must be an integer, found \"{TextFiles.Clip(scoreText)}\".");
            }
            if (!queries.ContainsKey(qid))
            {
                throw TextFiles.Error(qrelsPath, row.Line, $"query id \"{qid}\" is not in {queriesPath}.");
            }
            if (!docIds.ContainsKey(did))
            {
                throw TextFiles.Error(qrelsPath, row.Line, $"document id \"{did}\" is not in {corpusPath}.");
            }
            if (!qrels.TryGetValue(qid, out var judged))
            {
                qrels[qid] = judged = new Dictionary<string, int>(StringComparer.Ordinal);
            }
            judged[did] = grade;
        }
        if (qrels.Count == 0)
        {
            throw TextFiles.Error(qrelsPath, 1, $"split '{split}' has no judgements (empty split).");
        }
        var kept = queries.Values.Where(q => qrels.ContainsKey(q.Query.Id)).OrderBy(q => q.Line).Select(q => q.Query).ToList();
        return new RetrievalDataset(
            name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))),
            corpus,
            kept,
            qrels.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, int>)kv.Value, StringComparer.Ordinal));
    }
}
