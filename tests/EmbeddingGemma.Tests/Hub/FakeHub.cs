using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmbeddingGemma.Tests.Hub;

/// <summary>One request the fake hub saw.</summary>
internal sealed record FakeRequest(string Method, string Path, string? Range, string? Authorization);

/// <summary>One file of a fake repository.</summary>
internal sealed record FakeFile(byte[] Content, bool Lfs)
{
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));

    public string GitSha1
    {
        get
        {
            var header = Encoding.ASCII.GetBytes($"blob {Content.Length.ToString(CultureInfo.InvariantCulture)}\0");
            return Convert.ToHexStringLower(SHA1.HashData([.. header, .. Content]));
        }
    }

    /// <summary>The ETag the Hub gives: sha256 for LFS files, git blob sha1 otherwise.</summary>
    public string ETag => Lfs ? Sha256 : GitSha1;
}

/// <summary>A fake repository: commits (file sets) and refs (branch/tag -> commit).</summary>
internal sealed class FakeRepo(string repoId)
{
    private int commitCounter;

    public string RepoId { get; } = repoId;
    public ConcurrentDictionary<string, string> Refs { get; } = new();
    public ConcurrentDictionary<string, IReadOnlyDictionary<string, FakeFile>> Commits { get; } = new();
    /// <summary>When set, every request needs "Authorization: Bearer {RequiredToken}" (a gated repository).</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Adds a commit and points <paramref name="branch"/> at it; returns its hash.</summary>
    public string AddCommit(IReadOnlyDictionary<string, FakeFile> files, string branch = "main")
    {
        var n = Interlocked.Increment(ref commitCounter);
        var commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{RepoId}#{n}")));
        Commits[commit] = files;
        Refs[branch] = commit;
        return commit;
    }

    public string? Resolve(string revision) =>
        Commits.ContainsKey(revision) ? revision : Refs.TryGetValue(revision, out var c) ? c : null;
}

/// <summary>
/// A fake Hugging Face Hub on 127.0.0.1 (Kestrel, random port) speaking the parts of the Hub protocol the downloader
/// uses: <c>/api/models/{repo}/revision/{rev}</c> listings, <c>/{repo}/resolve/{rev}/{path}</c> with
/// <c>X-Repo-Commit</c>, <c>ETag</c>, and for LFS files a 302 to a "CDN" path with <c>X-Linked-Etag</c> /
/// <c>X-Linked-Size</c>, HTTP Range, gated repositories (401 without the token) and injected faults.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, FakeRepo> repos = new();

    private FakeHub(WebApplication app) => this.app = app;

    public string Endpoint { get; private set; } = "";
    public int Port { get; private set; }
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>The host name used in CDN redirects (another host than the endpoint's 127.0.0.1 when "localhost").</summary>
    public string CdnHost { get; set; } = "127.0.0.1";
    /// <summary>For this many content responses, send only <see cref="DropAfterBytes"/> bytes then drop the connection.</summary>
    public int DropCount { get; set; }
    public int DropAfterBytes { get; set; } = 1000;
    /// <summary>For this many content responses, send <see cref="DropAfterBytes"/> bytes then stall (until the client gives up).</summary>
    public int StallCount { get; set; }
    /// <summary>Serve content with one byte flipped (what a broken proxy or disk would do).</summary>
    public bool Corrupt { get; set; }

    public static async Task<FakeHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var hub = new FakeHub(app);
        app.Use(async (ctx, next) =>
        {
            hub.Requests.Enqueue(new FakeRequest(ctx.Request.Method, ctx.Request.Path.Value ?? "",
                ctx.Request.Headers.Range.FirstOrDefault(), ctx.Request.Headers.Authorization.FirstOrDefault()));
            await next(ctx);
        });
        app.MapGet("/api/models/{org}/{name}/revision/{rev}", hub.ListingAsync);
        app.MapMethods("/{org}/{name}/resolve/{rev}/{**path}", ["GET", "HEAD"], hub.ResolveAsync);
        app.MapGet("/cdn/{sha}", hub.CdnAsync);
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        hub.Port = address.Port;
        hub.Endpoint = $"http://127.0.0.1:{address.Port}";
        return hub;
    }

    public FakeRepo AddRepo(string repoId) => repos.GetOrAdd(repoId, id => new FakeRepo(id));

    public int CountRequests(Func<FakeRequest, bool> predicate) => Requests.Count(predicate);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private bool TryRepo(HttpContext ctx, string org, string name, out FakeRepo repo, out IResult? error)
    {
        error = null;
        if (!repos.TryGetValue($"{org}/{name}", out repo!))
        {
            ctx.Response.Headers["X-Error-Code"] = "RepoNotFound";
            error = Results.StatusCode(404);
            return false;
        }
        if (repo.RequiredToken is not null && ctx.Request.Headers.Authorization.FirstOrDefault() != "Bearer " + repo.RequiredToken)
        {
            ctx.Response.Headers["X-Error-Code"] = "GatedRepo";
            ctx.Response.Headers["X-Error-Message"] = $"Access to model {org}/{name} is restricted. You must have access to it and be authenticated to access it. Please log in.";
            error = Results.StatusCode(401);
            return false;
        }
        return true;
    }

    private IResult ListingAsync(HttpContext ctx, string org, string name, string rev)
    {
        if (!TryRepo(ctx, org, name, out var repo, out var error))
        {
            return error!;
        }
        var commit = repo.Resolve(rev);
        if (commit is null)
        {
            ctx.Response.Headers["X-Error-Code"] = "RevisionNotFound";
            return Results.StatusCode(404);
        }
        var siblings = repo.Commits[commit].OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Value.Lfs
            ? (object)new { rfilename = f.Key, size = f.Value.Content.Length, blobId = f.Value.GitSha1, lfs = new { sha256 = f.Value.Sha256, size = f.Value.Content.Length, pointerSize = 134 } }
            : new { rfilename = f.Key, size = f.Value.Content.Length, blobId = f.Value.GitSha1 });
        return Results.Content(JsonSerializer.Serialize(new { id = repo.RepoId, sha = commit, siblings }), "application/json");
    }

    private async Task ResolveAsync(HttpContext ctx, string org, string name, string rev, string path)
    {
        if (!TryRepo(ctx, org, name, out var repo, out var error))
        {
            await error!.ExecuteAsync(ctx);
            return;
        }
        var commit = repo.Resolve(Uri.UnescapeDataString(rev));
        if (commit is null)
        {
            ctx.Response.Headers["X-Error-Code"] = "RevisionNotFound";
            ctx.Response.StatusCode = 404;
            return;
        }
        if (!repo.Commits[commit].TryGetValue(path, out var file))
        {
            ctx.Response.Headers["X-Error-Code"] = "EntryNotFound";
            ctx.Response.StatusCode = 404;
            return;
        }
        ctx.Response.Headers["X-Repo-Commit"] = commit;
        if (file.Lfs)
        {
            ctx.Response.Headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            ctx.Response.Headers["X-Linked-Size"] = file.Content.Length.ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers.ETag = $"\"{file.GitSha1}\"";
            ctx.Response.Headers.Location = $"http://{CdnHost}:{Port}/cdn/{file.Sha256}?expires=3600";
            ctx.Response.StatusCode = 302;
            return;
        }
        ctx.Response.Headers.ETag = $"\"{file.GitSha1}\"";
        await ServeAsync(ctx, file.Content);
    }

    private async Task CdnAsync(HttpContext ctx, string sha)
    {
        var file = repos.Values.SelectMany(r => r.Commits.Values).SelectMany(c => c.Values).FirstOrDefault(f => f.Lfs && f.Sha256 == sha);
        if (file is null)
        {
            ctx.Response.StatusCode = 404;
            return;
        }
        await ServeAsync(ctx, file.Content);
    }

    private async Task ServeAsync(HttpContext ctx, byte[] content)
    {
        long start = 0;
        var range = ctx.Request.Headers.Range.FirstOrDefault();
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
            if (start >= content.Length)
            {
                ctx.Response.StatusCode = 416;
                return;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        var body = content.AsMemory((int)start).ToArray();
        ctx.Response.ContentLength = body.Length;
        if (HttpMethods.IsHead(ctx.Request.Method))
        {
            return;
        }
        if (Corrupt && body.Length > 0)
        {
            body[body.Length / 2] ^= 0x5A;
        }
        if (StallCount > 0)
        {
            StallCount--;
            await ctx.Response.Body.WriteAsync(body.AsMemory(0, Math.Min(DropAfterBytes, body.Length)));
            await ctx.Response.Body.FlushAsync();
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            return;
        }
        if (DropCount > 0)
        {
            DropCount--;
            await ctx.Response.Body.WriteAsync(body.AsMemory(0, Math.Min(DropAfterBytes, body.Length)));
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(50);
            ctx.Abort();
            return;
        }
        await ctx.Response.Body.WriteAsync(body);
    }
}
