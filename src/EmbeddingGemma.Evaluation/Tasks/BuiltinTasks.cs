using System.Text.RegularExpressions;
using EmbeddingGemma.Evaluation.Data;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// The built-in tasks over the local data sets (layout of <c>shared/data</c>; the repository ships small copies in
/// <c>data/eval</c>), and the parser of <c>--tasks</c> lists: <c>all</c>, a task type (<c>retrieval</c>, <c>sts</c>,
/// <c>classification</c>, <c>clustering</c>, <c>pairclassification</c>, <c>reranking</c>), a built-in name, a path to
/// a BEIR folder, or <c>sts:FILE</c> / <c>pairs:FILE</c> / <c>clustering:FILE</c> / <c>classification:FOLDER</c>
/// (train.* and test.* inside) for users' own TSV/CSV/JSONL files.
/// </summary>
public static partial class BuiltinTasks
{
    public static readonly string[] XquadLanguages = ["ar", "de", "en", "es", "ru", "zh"];
    public static readonly string[] StsbLanguages = ["en", "de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh"];
    public static readonly string[] SibLanguages = ["arb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "hin_Deva", "jpn_Jpan", "kor_Hang", "rus_Cyrl", "spa_Latn", "zho_Hans", "zho_Hant"];
    private static readonly (string Q, string C)[] XquadCross = [("en", "zh"), ("zh", "en"), ("en", "de"), ("de", "en"), ("en", "ar"), ("ru", "en")];

    /// <summary>Every built-in task name, in report order (grouped by task type).</summary>
    public static IReadOnlyList<string> Names { get; } = BuildNames();

    private static List<string> BuildNames()
    {
        var n = new List<string> { "scifact" };
        n.AddRange(XquadLanguages.Select(l => $"xquad-{l}"));
        n.AddRange(XquadCross.Select(p => $"xquad-{p.Q}-{p.C}"));
        n.Add("humaneval");
        n.Add("mbpp");
        n.AddRange(StsbLanguages.Select(l => $"stsb-{l}"));
        n.Add("stsbenchmark-en");
        n.Add("banking77");
        n.AddRange(["amazon-counterfactual-en", "amazon-counterfactual-de", "amazon-counterfactual-ja"]);
        n.AddRange(SibLanguages.Select(l => $"sib200-{l}"));
        n.Add("csl-ctg");
        n.AddRange(SibLanguages.Select(l => $"sib200-clustering-{l}"));
        n.AddRange(["csl-ctg-clustering", "csl-dcp-clustering"]);
        n.Add("stsb-pairs-en");
        n.AddRange(XquadLanguages.Select(l => $"xquad-rerank-{l}"));
        return n;
    }

    /// <summary>The data root used when none is given: $EMBEDDINGGEMMA_EVAL_DATA, else the first <c>data/eval</c>
    /// (holding SUBSAMPLES.txt) found walking up from the current folder, then from the program's folder; null if none.</summary>
    public static string? FindDefaultDataRoot()
    {
        var env = Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_EVAL_DATA");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "data", "eval");
                if (File.Exists(Path.Combine(candidate, "SUBSAMPLES.txt")))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    /// <summary>Parses a comma-separated <c>--tasks</c> list into tasks (duplicates removed, order kept).</summary>
    public static IReadOnlyList<EvalTask> Resolve(string spec, string? dataRoot)
    {
        var tasks = new List<EvalTask>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            foreach (var t in ResolveOne(raw, dataRoot))
            {
                if (seen.Add(t.Name))
                {
                    tasks.Add(t);
                }
            }
        }
        if (tasks.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "no tasks given (--tasks all, a task type, built-in names or BEIR folder paths).");
        }
        return tasks;
    }

    private static IEnumerable<EvalTask> ResolveOne(string item, string? dataRoot)
    {
        var lower = item.ToLowerInvariant();
        if (lower == "all")
        {
            return Names.Select(n => Create(n, RequireRoot(dataRoot, n)));
        }
        if (Enum.TryParse<EvalTaskType>(item, ignoreCase: true, out var type) && !item.All(char.IsDigit))
        {
            return Names.Select(n => Create(n, RequireRoot(dataRoot, n))).Where(t => t.Type == type);
        }
        var builtin = Names.FirstOrDefault(n => string.Equals(n, item, StringComparison.OrdinalIgnoreCase));
        if (builtin is not null)
        {
            return [Create(builtin, RequireRoot(dataRoot, builtin))];
        }
        int colon = item.IndexOf(':', StringComparison.Ordinal);
        if (colon > 1)
        {
            var kind = lower[..colon];
            var path = item[(colon + 1)..];
            var name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
            switch (kind)
            {
                case "sts":
                    return [new StsTask(name, [], () => TableLoader.LoadSts(path, name))];
                case "pairs":
                    return [new PairClassificationTask(name, [], () => TableLoader.LoadPairs(path, name))];
                case "clustering":
                    return [new ClusteringTask(name, [], () => new ClusteringDataset(name, TableLoader.LoadLabeled(path)))];
                case "classification":
                    return [new ClassificationTask(name, [], () => new ClassificationDataset(name, TableLoader.LoadLabeled(FindSplit(path, "train")), TableLoader.LoadLabeled(FindSplit(path, "test"))))];
                case "retrieval":
                    return [BeirTask(path)];
            }
        }
        if (Directory.Exists(item))
        {
            return [BeirTask(item)];
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
            $"unknown task '{item}': not a built-in task ({string.Join(", ", Names.Take(6))}, ... — see `embeddinggemma eval --list-tasks`), a task type, or an existing BEIR folder.");
    }

    private static EvalTask BeirTask(string folder)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        if (!BeirLoader.IsBeirFolder(folder))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{folder}: not a BEIR folder (corpus.jsonl[.gz] and queries.jsonl[.gz] expected).") { FilePath = folder };
        }
        return new RetrievalTask(name, [], () => BeirLoader.Load(folder, "test", name));
    }

    private static string FindSplit(string folder, string split)
    {
        foreach (var ext in new[] { ".tsv", ".csv", ".jsonl" })
        {
            var p = TextFiles.Resolve(Path.Combine(folder, split + ext));
            if (p is not null)
            {
                return p;
            }
        }
        throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{folder}: no {split}.tsv, {split}.csv or {split}.jsonl (optionally .gz).") { FilePath = folder };
    }

    private static string RequireRoot(string? dataRoot, string task) =>
        dataRoot ?? throw new EmbeddingGemmaException(ErrorKind.NotFound,
            $"built-in task '{task}' needs the evaluation data: pass --data-dir (the repository's data/eval, or shared/data for the full sets) or set EMBEDDINGGEMMA_EVAL_DATA.");

    /// <summary>Creates a built-in task reading from <paramref name="root"/> (loading happens when it runs).</summary>
    public static EvalTask Create(string name, string root)
    {
        string P(params string[] parts) => Path.Combine([root, .. parts]);
        var m = XquadRegex().Match(name);
        if (name == "scifact")
        {
            return new RetrievalTask(name, ["en"], () => BeirLoader.Load(P("scifact_beir"), "test", name));
        }
        if (m.Success)
        {
            var q = m.Groups[1].Value;
            var c = m.Groups[2].Success ? m.Groups[2].Value : q;
            return new RetrievalTask(name, q == c ? [q] : [q, c], () => BeirLoader.Load(P("xquad", "beir", c), "test", name, P("xquad", "beir", q)));
        }
        if (name.StartsWith("xquad-rerank-", StringComparison.Ordinal))
        {
            var l = name["xquad-rerank-".Length..];
            return new RerankingTask(name, [l], () => XquadReranking(BeirLoader.Load(P("xquad", "beir", l), "test", name), name));
        }
        if (name == "humaneval")
        {
            return new RetrievalTask(name, ["en", "python"], () => CodeRetrieval(P("humaneval", "HumanEval.jsonl"), name, "task_id", "prompt", "canonical_solution"), "InstructionRetrieval");
        }
        if (name == "mbpp")
        {
            return new RetrievalTask(name, ["en", "python"], () => CodeRetrieval(P("mbpp", "mbpp.jsonl"), name, "task_id", "text", "code"), "InstructionRetrieval");
        }
        if (name == "stsbenchmark-en")
        {
            return new StsTask(name, ["en"], () => StsBenchmark(P("stsbenchmark_en", "stsbenchmark.tsv"), "test", name));
        }
        if (name == "stsb-pairs-en")
        {
            return new PairClassificationTask(name, ["en"], () =>
            {
                var sts = StsBenchmark(P("stsbenchmark_en", "stsbenchmark.tsv"), "test", name);
                return new PairClassificationDataset(name, sts.Pairs.Select(p => new LabeledPair(p.Text1, p.Text2, p.Score >= 4.0)).ToList());
            });
        }
        if (name.StartsWith("stsb-", StringComparison.Ordinal))
        {
            var l = name[5..];
            return new StsTask(name, [l], () => TableLoader.LoadSts(P("stsb_multi_mt", $"stsb-{l}-test.csv"), name));
        }
        if (name == "banking77")
        {
            return new ClassificationTask(name, ["en"], () => new ClassificationDataset(name, TableLoader.LoadLabeled(P("banking77", "train.csv")), TableLoader.LoadLabeled(P("banking77", "test.csv"))));
        }
        if (name.StartsWith("amazon-counterfactual-", StringComparison.Ordinal))
        {
            var l = name["amazon-counterfactual-".Length..];
            var file = l == "ja" ? "JP" : l.ToUpperInvariant();
            return new ClassificationTask(name, [l], () => new ClassificationDataset(name,
                Columns(P("amazon_counterfactual", $"{file}_train.tsv"), 0, 1, header: true), Columns(P("amazon_counterfactual", $"{file}_test.tsv"), 0, 1, header: true)), samplesPerLabel: 32);
        }
        if (name.StartsWith("sib200-clustering-", StringComparison.Ordinal))
        {
            var l = name["sib200-clustering-".Length..];
            return new ClusteringTask(name, [l], () => new ClusteringDataset(name, TableLoader.LoadLabeled(P("sib200", l, "test.tsv"))));
        }
        if (name.StartsWith("sib200-", StringComparison.Ordinal))
        {
            var l = name["sib200-".Length..];
            return new ClassificationTask(name, [l], () => new ClassificationDataset(name, TableLoader.LoadLabeled(P("sib200", l, "train.tsv")), TableLoader.LoadLabeled(P("sib200", l, "test.tsv"))));
        }
        if (name == "csl-ctg")
        {
            return new ClassificationTask(name, ["zh"], () => new ClassificationDataset(name, Columns(P("csl_zh", "cls_ctg", "train.tsv"), 1, 2, header: false), Columns(P("csl_zh", "cls_ctg", "test.tsv"), 1, 2, header: false)));
        }
        if (name == "csl-ctg-clustering")
        {
            return new ClusteringTask(name, ["zh"], () => new ClusteringDataset(name, Columns(P("csl_zh", "cls_ctg", "test.tsv"), 1, 2, header: false)));
        }
        if (name == "csl-dcp-clustering")
        {
            return new ClusteringTask(name, ["zh"], () => new ClusteringDataset(name, Columns(P("csl_zh", "cls_dcp", "test.tsv"), 1, 2, header: false)));
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"unknown built-in task '{name}'.");
    }

    [GeneratedRegex("^xquad-(ar|de|en|es|ru|zh)(?:-(ar|de|en|es|ru|zh))?$")]
    private static partial Regex XquadRegex();

    /// <summary>Text and label from fixed TSV columns (header row skipped when <paramref name="header"/>).</summary>
    internal static List<LabeledText> Columns(string path, int textColumn, int labelColumn, bool header)
    {
        var file = TextFiles.Require(path, "data file");
        var items = new List<LabeledText>();
        foreach (var row in TextFiles.ReadTsv(file))
        {
            if (header && items.Count == 0 && row.Line == 1)
            {
                continue;
            }
            int need = Math.Max(textColumn, labelColumn) + 1;
            if (row.Fields.Count < need)
            {
                throw TextFiles.Error(file, row.Line, $"expected at least {need} tab-separated fields, found {row.Fields.Count}.");
            }
            var text = row.Fields[textColumn];
            var label = row.Fields[labelColumn].Trim();
            if (string.IsNullOrWhiteSpace(text) || label.Length == 0)
            {
                throw TextFiles.Error(file, row.Line, "empty text or label.");
            }
            items.Add(new LabeledText(text, label));
        }
        TableLoader.RequireRows(file, items.Count);
        return items;
    }

    /// <summary>The sentence-transformers STS benchmark TSV (split, genre, dataset, year, sid, score, sentence1, sentence2), one split.</summary>
    internal static StsDataset StsBenchmark(string path, string split, string name)
    {
        var file = TextFiles.Require(path, "STS benchmark file");
        var pairs = new List<StsPair>();
        foreach (var row in TextFiles.ReadTsv(file))
        {
            if (row.Line == 1 && row.Fields[0] == "split")
            {
                continue;
            }
            if (row.Fields.Count != 8)
            {
                throw TextFiles.Error(file, row.Line, $"expected 8 tab-separated fields, found {row.Fields.Count}.");
            }
            if (row.Fields[0] == split)
            {
                pairs.Add(new StsPair(row.Fields[6], row.Fields[7], TextFiles.ParseNumber(row.Fields[5], file, row.Line, "score")));
            }
        }
        if (pairs.Count == 0)
        {
            throw TextFiles.Error(file, 1, $"no rows of split '{split}' (empty split).");
        }
        return new StsDataset(name, pairs);
    }

    /// <summary>Code retrieval from a JSON-lines file: query = the natural-language field, document = the code field, one relevant document per query.</summary>
    internal static RetrievalDataset CodeRetrieval(string path, string name, string idField, string queryField, string codeField)
    {
        var file = TextFiles.Require(path, "code data file");
        var corpus = new List<CorpusDocument>();
        var queries = new List<RetrievalQuery>();
        var qrels = new Dictionary<string, IReadOnlyDictionary<string, int>>(StringComparer.Ordinal);
        foreach (var (line, row) in TextFiles.ReadJsonLines(file))
        {
            var id = TextFiles.GetString(row, idField, file, line, required: true)!;
            var q = TextFiles.GetString(row, queryField, file, line, required: true)!;
            var code = TextFiles.GetString(row, codeField, file, line, required: true)!;
            if (qrels.ContainsKey("q" + id))
            {
                throw TextFiles.Error(file, line, $"duplicate id \"{id}\".");
            }
            corpus.Add(new CorpusDocument("d" + id, "", code));
            queries.Add(new RetrievalQuery("q" + id, q));
            qrels["q" + id] = new Dictionary<string, int> { ["d" + id] = 1 };
        }
        TableLoader.RequireRows(file, corpus.Count);
        return new RetrievalDataset(name, corpus, queries, qrels);
    }

    /// <summary>XQuAD as reranking: each question's candidates are the paragraphs of its article (ids a&lt;article&gt;_p&lt;n&gt;); positive = its paragraph.</summary>
    internal static RerankingDataset XquadReranking(RetrievalDataset ds, string name)
    {
        static string Article(string id) => id[..Math.Max(0, id.IndexOf("_p", StringComparison.Ordinal))];
        var byArticle = ds.Corpus.GroupBy(d => Article(d.Id)).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var samples = new List<RerankingSample>();
        foreach (var q in ds.Queries)
        {
            var relevant = ds.Qrels[q.Id].Where(kv => kv.Value >= 1).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            var article = Article(relevant.First());
            var docs = byArticle[article];
            samples.Add(new RerankingSample(q.Text,
                docs.Where(d => relevant.Contains(d.Id)).Select(RetrievalTask.DocumentText).ToList(),
                docs.Where(d => !relevant.Contains(d.Id)).Select(RetrievalTask.DocumentText).ToList()));
        }
        return new RerankingDataset(name, samples);
    }
}
