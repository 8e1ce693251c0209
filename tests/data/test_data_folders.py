"""The class-folder reader: folders and tarballs, train/test layouts, and bad layouts."""

import io
import os
import tarfile

import pytest

from deeprnn.data import DataFormatError, read_text_folder, read_text_folder_splits

CORPUS = {
    "txt_sentoken/pos/cv000_1.txt": "a fine film",
    "txt_sentoken/pos/cv001_2.txt": "great \u00e9 acting",
    "txt_sentoken/pos/deeper/cv002_3.txt": "nested review",
    "txt_sentoken/neg/cv000_4.txt": "dull",
    "txt_sentoken/neg/cv001_5.txt": "awful plot",
    "txt_sentoken/neg/.DS_Store": b"\x00\x01",
    "txt_sentoken/neg/notes.md": "not a review",
    "poldata.README.2.0": "readme beside the corpus",
}


def write_folder(root, files):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode() if isinstance(text, str) else text)
    return root


def write_tar(path, files, mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_folder_and_tarball_agree(tmp_path):
    folder = write_folder(tmp_path / "review_polarity", CORPUS)
    tars = [write_tar(tmp_path / "rp.tar.gz", CORPUS), write_tar(tmp_path / "rp.tar", CORPUS, "w")]
    a = read_text_folder(folder)
    assert a.label_names == ("neg", "pos")  # sorted subfolder names, like Keras' class_names
    assert a.ids == [
        "neg/cv000_4.txt",
        "neg/cv001_5.txt",
        "pos/cv000_1.txt",
        "pos/cv001_2.txt",
        "pos/deeper/cv002_3.txt",  # class folders are read recursively
    ]
    assert a.labels == [0, 0, 1, 1, 1]
    assert a[3] == ("great \u00e9 acting", 1)
    assert a.skipped == {"hidden file": 1, "not a .txt file": 1}
    for path in (*tars, folder / "txt_sentoken"):
        b = read_text_folder(path)
        assert (b.texts, b.labels, b.ids, b.label_names) == (
            a.texts,
            a.labels,
            a.ids,
            a.label_names,
        )
        assert b.skipped == a.skipped


def test_options(tmp_path):
    folder = write_folder(tmp_path / "c", CORPUS)
    d = read_text_folder(folder, class_names=["pos", "neg"], max_per_class=1)
    assert d.label_names == ("pos", "neg") and d.ids == ["pos/cv000_1.txt", "neg/cv000_4.txt"]
    assert d.skipped["over max_per_class"] == 3
    every = read_text_folder(folder / "txt_sentoken", extensions=None)  # every visible file
    assert "neg/notes.md" in every.ids and len(every) == 6
    md = read_text_folder(folder, extensions=(".MD", ".txt"))
    assert len(md) == 6
    with pytest.raises(ValueError, match=r"class_names \['mixed'\] not found .* \['neg', 'pos'\]"):
        read_text_folder(folder, class_names=["neg", "mixed"])
    with pytest.raises(ValueError, match="max_per_class must be a positive int or None, got 0"):
        read_text_folder(folder, max_per_class=0)
    with pytest.raises(ValueError, match=r"extensions must be .*, got \['txt'\]"):
        read_text_folder(folder, extensions=["txt"])
    with pytest.raises(TypeError, match="follow_links must be a bool"):
        read_text_folder(folder, follow_links="yes")


def test_train_test_layout(tmp_path):
    files = {
        "aclImdb/train/pos/1.txt": "good",
        "aclImdb/train/neg/2.txt": "bad",
        "aclImdb/train/unsup/3.txt": "unlabelled",
        "aclImdb/train/urls_pos.txt": "http://...",
        "aclImdb/test/pos/4.txt": "fine",
        "aclImdb/test/neg/5.txt": "poor",
        "aclImdb/imdbEr.txt": "beside the splits: never read",
    }
    tar = write_tar(tmp_path / "acl.tar.gz", files)
    kw = {"class_names": ["neg", "pos"]}  # leaves train/unsup and the url lists out
    train = read_text_folder(tar, split="train", **kw)
    assert train.ids == ["neg/2.txt", "pos/1.txt"] and train.texts == ["bad", "good"]
    assert train.skipped["folder not in class_names (unsup/)"] == 1
    assert train.skipped["file outside the class folders"] == 1
    splits = read_text_folder_splits(tar, **kw)
    assert sorted(splits) == ["test", "train"] and splits["test"].texts == ["poor", "fine"]
    assert splits["train"].ids == train.ids
    with pytest.raises(ValueError, match=r"holds train/ and test/ folders: pass split='train'"):
        read_text_folder(tar, **kw)
    with pytest.raises(ValueError, match=r"urls_pos.txt is a .txt file at the level where class"):
        read_text_folder(tar, split="train")
    with pytest.raises(ValueError, match=r"split='val' but .*aclImdb has no val/ folder"):
        read_text_folder(tar, split="val", **kw)
    flat = write_folder(tmp_path / "flat", {"a/1.txt": "x", "b/2.txt": "y"})
    assert read_text_folder_splits(flat)["train"].label_names == ("a", "b")
    with pytest.raises(ValueError, match=r"split='train' but .*flat has no train/ folder"):
        read_text_folder(flat, split="train")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"c/pos/1.txt": "x", "c/neg/readme.md": "y"}, r"class folder .*c/neg holds no document"),
        ({"c/pos/1.txt": "x", "c/pos/2.txt": "y"}, r"found one class folder \(pos/\) in"),
        ({"c/pos/1.txt": "x", "c/neg/2.txt": "y", "c/stray.txt": "z"}, r"c/stray.txt is a .txt"),
        ({"pos/1.txt": "x", "2.txt": "y"}, r"2.txt is a .txt file at the level where class"),
        (
            {"d/train/pos/1.txt": "x", "d/train/neg/2.txt": "y"},
            r"has a train/ folder but no test/ folder",
        ),
        (
            {"d/test/pos/1.txt": "x", "d/test/neg/2.txt": "y", "d/other/3.txt": "z"},
            r"has a test/ folder but no train/ folder",
        ),
        (
            {"t/train/a/1.txt": "x", "t/train/b/2.txt": "y", "t/test/a/3.txt": "z"},
            r"test/ \['a'\]|found one class folder \(a/\)",
        ),
    ],
)
def test_bad_layouts_are_clear_errors(tmp_path, files, message):
    folder = write_folder(tmp_path / "f", files)
    tar = write_tar(tmp_path / "f.tar.gz", files)
    for path in (folder, tar):
        with pytest.raises(ValueError, match=message):
            read_text_folder_splits(path)


def test_train_and_test_must_have_the_same_classes(tmp_path):
    files = {
        "train/a/1.txt": "x",
        "train/b/2.txt": "y",
        "test/a/3.txt": "z",
        "test/c/4.txt": "w",
    }
    with pytest.raises(ValueError, match=r"test/ \['a', 'c'\] differ from those of train/"):
        read_text_folder_splits(write_folder(tmp_path / "f", files))


def test_bad_text_names_the_file(tmp_path):
    files = {"pos/1.txt": "x", "neg/bad.txt": b"line one\ncaf\xe9\n"}
    folder = write_folder(tmp_path / "f", files)
    with pytest.raises(DataFormatError, match=r"neg/bad.txt:2: not valid utf-8 text"):
        read_text_folder(folder)
    tar = write_tar(tmp_path / "f.tgz", files)
    with pytest.raises(DataFormatError, match=r"f.tgz:neg/bad.txt:2: not valid utf-8"):
        read_text_folder(tar)
    assert read_text_folder(tar, encoding="latin-1").texts[0] == "line one\ncaf\u00e9\n"


def test_missing_plain_and_corrupt_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_text_folder(tmp_path / "nope")
    plain = tmp_path / "reviews.csv"
    plain.write_text("text,label\n")
    with pytest.raises(ValueError, match="non-tar file"):
        read_text_folder(plain)
    tar = write_tar(tmp_path / "t.tar.gz", {"a/1.txt": "x" * 5000, "b/2.txt": "y"})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tar.read_bytes()[:60])
    with pytest.raises((DataFormatError, ValueError), match=r"corrupt|non-tar"):
        read_text_folder(cut)
    with pytest.raises(ValueError, match="no class folder"):
        read_text_folder((tmp_path / "empty").mkdir() or tmp_path / "empty")


def test_tarball_members_never_escape(tmp_path):
    tar = tmp_path / "evil.tar"
    with tarfile.open(tar, "w") as tf:
        for name, data in {
            "ok/pos/1.txt": b"x",
            "ok/neg/2.txt": b"y",
            "/etc/passwd.txt": b"abs",
            "ok/pos/../../escape.txt": b"up",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("ok/pos/link.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    d = read_text_folder(tar)
    assert d.ids == ["neg/2.txt", "pos/1.txt"]
    assert d.skipped["unsafe member path (absolute or '..')"] == 2
    assert d.skipped["link or special file in the archive (not followed)"] == 1
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_links_are_followed_only_when_asked(tmp_path):
    outside = write_folder(tmp_path / "outside", {"3.txt": "linked"})
    folder = write_folder(tmp_path / "f", {"pos/1.txt": "x", "neg/2.txt": "y"})
    (folder / "pos" / "more").symlink_to(outside, target_is_directory=True)
    (folder / "neg" / "loop").symlink_to(folder, target_is_directory=True)
    d = read_text_folder(folder)
    assert len(d) == 2 and d.skipped["symbolic link (follow_links=False)"] == 2
    followed = read_text_folder(folder, follow_links=True)
    assert followed.ids == ["neg/2.txt", "pos/1.txt", "pos/more/3.txt"]
    assert followed.skipped["link to a folder already read"] == 1


@pytest.mark.data
@pytest.mark.slow
def test_a_slice_of_aclimdb_through_the_folder_reader(shared_data):
    tarball = shared_data / "imdb" / "aclImdb_v1.tar.gz"
    d = read_text_folder(tarball, split="train", class_names=["neg", "pos"], max_per_class=50)
    assert d.label_names == ("neg", "pos") and len(d) == 100
    assert d.labels == [0] * 50 + [1] * 50
    assert d.ids[0].startswith("neg/") and d.ids[-1].startswith("pos/")
    assert d.skipped["over max_per_class"] == 2 * 12_500 - 100
    assert all(t.strip() for t in d.texts)
