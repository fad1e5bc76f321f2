using System.Text.RegularExpressions;

namespace EmbeddingGemma.Hub;

/// <summary>
/// The Hugging Face cache layout, identical to Python's huggingface_hub so either tool finds the other's files:
/// <code>
/// {cache}/models--{org}--{name}/blobs/{etag}              file contents, named by ETag (sha256 for LFS files, git sha1 otherwise)
/// {cache}/models--{org}--{name}/snapshots/{commit}/{path} relative symlinks (or copies) to the blobs
/// {cache}/models--{org}--{name}/refs/{revision}           the commit hash a branch or tag pointed to
/// {cache}/.locks/models--{org}--{name}/{etag}.lock         cross-process lock while a blob downloads
/// </code>
/// </summary>
public sealed partial class HubCache
{
    /// <summary>A cache rooted at <paramref name="cacheDirectory"/> (the <c>hub</c> folder).</summary>
    public HubCache(string cacheDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        Root = Path.GetFullPath(cacheDirectory);
    }

    /// <summary>The cache root.</summary>
    public string Root { get; }

    /// <summary><c>models--org--name</c> for <c>org/name</c>.</summary>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>The repository's folder in the cache.</summary>
    public string RepoPath(string repoId) => Path.Combine(Root, RepoFolderName(repoId));

    /// <summary>Where a blob with this ETag lives.</summary>
    public string BlobPath(string repoId, string etag) => Path.Combine(RepoPath(repoId), "blobs", etag);

    /// <summary>The snapshot folder of a commit.</summary>
    public string SnapshotPath(string repoId, string commit) => Path.Combine(RepoPath(repoId), "snapshots", commit);

    /// <summary>The file that records which commit a revision pointed to.</summary>
    public string RefPath(string repoId, string revision) => Path.Combine(RepoPath(repoId), "refs", revision);

    /// <summary>The lock file guarding one blob's download.</summary>
    public string LockPath(string repoId, string etag) => Path.Combine(Root, ".locks", RepoFolderName(repoId), etag + ".lock");

    /// <summary>True for a full 40-hex-digit commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitRegex().IsMatch(revision);

    /// <summary>
    /// The commit a revision resolves to from the cache alone: the revision itself when it is a commit hash with a
    /// snapshot, else the content of <c>refs/{revision}</c>; null when unknown.
    /// </summary>
    public string? TryGetCommit(string repoId, string revision)
    {
        if (IsCommitHash(revision))
        {
            return Directory.Exists(SnapshotPath(repoId, revision)) ? revision : null;
        }
        var refPath = RefPath(repoId, revision);
        if (!File.Exists(refPath))
        {
            return null;
        }
        var commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records that <paramref name="revision"/> points to <paramref name="commit"/> (nothing for a commit hash).</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (revision == commit)
        {
            return;
        }
        var refPath = RefPath(repoId, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        if (File.Exists(refPath) && File.ReadAllText(refPath).Trim() == commit)
        {
            return;
        }
        var tmp = refPath + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(tmp, commit);
        File.Move(tmp, refPath, overwrite: true);
    }

    /// <summary>Files of a cached snapshot (paths relative to it, '/' separated, sorted); empty when absent.</summary>
    public IReadOnlyList<string> ListSnapshotFiles(string repoId, string commit)
    {
        var dir = SnapshotPath(repoId, commit);
        if (!Directory.Exists(dir))
        {
            return [];
        }
        return Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(File.Exists) // drops dangling links
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Makes <c>snapshots/{commit}/{path}</c> point at the blob: a relative symlink like huggingface_hub, or a copy
    /// when <paramref name="useSymlinks"/> is false or the file system refuses links.
    /// </summary>
    public string LinkIntoSnapshot(string repoId, string commit, string relativePath, string blobPath, bool useSymlinks)
    {
        var pointer = Path.Combine(SnapshotPath(repoId, commit), relativePath.Replace('/', Path.DirectorySeparatorChar));
        var dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        if (File.Exists(pointer) || IsLink(pointer))
        {
            File.Delete(pointer);
        }
        if (useSymlinks)
        {
            try
            {
                File.CreateSymbolicLink(pointer, Path.GetRelativePath(dir, blobPath));
                return pointer;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            catch (PlatformNotSupportedException)
            {
            }
        }
        var tmp = pointer + ".tmp";
        File.Copy(blobPath, tmp, overwrite: true);
        File.Move(tmp, pointer, overwrite: true);
        return pointer;
    }

    private static bool IsLink(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is not null;
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitRegex();
}
