"""playground.csv_reading: reading uploads (separators, encodings, first lines), every bad file's code
and message, the notes on how a table was read, choosing the target and the features."""

import codecs
import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from core.tabular import MAX_CLASSES, TabularError
from playground import csv_reading as cr
from playground.csv_reading import CsvError, ReadNote


def csv_bytes(rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(rows) + "\n").encode(encoding)


def small_table(n=30) -> bytes:
    """Two numeric features and a text class, n rows."""
    return csv_bytes(["width,height,kind", *(f"{i % 7}.5,{(3 * i) % 5},{'ab'[i % 2]}" for i in range(n))])


def notes_of(df) -> list[str]:
    return [note.code for note in df.attrs["notes"]]


def iris_csv(separator: str = ",", header: str = "150,4,setosa,versicolor,virginica") -> str:
    """scikit-learn's iris.csv: a line of counts (rows, features, class names), then rows without a header."""
    rng = np.random.default_rng(0)
    rows = []
    for label in range(3):
        for x in 1 + label + rng.random((50, 4)):
            values = [f"{v:.1f}" for v in x] + [str(label)]
            if separator == ";":
                values = [v.replace(".", ",") for v in values]
            rows.append(separator.join(values))
    return "\n".join([header.replace(",", separator), *rows]) + "\n"


def otto_csv(separator: str = ",", title: str = "Otto products") -> str:
    decimal = "," if separator == ";" else "."
    rows = [separator.join(["id", "feat_1", "feat_2", "target"])]
    rows += [separator.join([str(i + 1), f"{i % 5}{decimal}5", str(i % 7), f"Class_{i % 2 + 1}"]) for i in range(40)]
    return "\n".join([title, *rows]) + "\n"


# ---- reading a file: the good cases --------------------------------------------------------------


def test_a_plain_csv_is_read_with_its_types():
    df = cr.read_csv_upload(small_table(), "shapes.csv")
    assert df.shape == (30, 3) and list(df.columns) == ["width", "height", "kind"]
    assert df["width"].dtype == np.float64 and df["height"].dtype == np.int64
    assert df.attrs["notes"] == ()


def test_semicolons_and_decimal_commas_are_understood():
    df = cr.read_csv_upload(b"a;b;kind\n1,5;2;x\n2,25;3;y\n", "excel.csv")
    assert df["a"].tolist() == [1.5, 2.25]
    assert df.attrs["notes"] == (ReadNote("csv.note.semicolon", {}),)
    assert "';'" in df.attrs["notes"][0].text and "decimal" in df.attrs["notes"][0].text


def test_semicolons_win_even_when_each_row_has_as_many_decimal_commas():
    df = cr.read_csv_upload(b"a;b\n1,5;2,5\n3,5;4,5\n", "eu.csv")
    assert list(df.columns) == ["a", "b"] and df["b"].tolist() == [2.5, 4.5]


WINE_HEADER = (
    '"fixed acidity";"volatile acidity";"citric acid";"residual sugar";"chlorides";"free sulfur dioxide";'
    '"total sulfur dioxide";"density";"pH";"sulphates";"alcohol";"quality"'
)
WINE_ROWS = (
    "7.4;0.7;0;1.9;0.076;11;34;0.9978;3.51;0.56;9.4;5",
    "7.8;0.88;0;2.6;0.098;25;67;0.9968;3.2;0.68;9.8;5",
    "7.8;0.76;0.04;2.3;0.092;15;54;0.997;3.26;0.65;9.8;5",
    "11.2;0.28;0.56;1.9;0.075;17;60;0.998;3.16;0.58;9.8;6",
    "7.4;0.66;0;1.8;0.075;13;40;0.9978;3.51;0.56;9.4;5",
    "7.9;0.6;0.06;1.6;0.069;15;59;0.9964;3.3;0.46;9.4;5",
    "7.3;0.65;0;1.2;0.065;15;21;0.9946;3.39;0.47;10;7",
    "7.8;0.58;0.02;2;0.073;9;18;0.9968;3.36;0.57;9.5;7",
)


def test_uci_wine_quality_semicolons_with_decimal_points_are_numbers():
    """UCI's winequality-red.csv: ';' between columns, '.' in the numbers."""
    df = cr.read_csv_upload(csv_bytes([WINE_HEADER, *WINE_ROWS * 3]), "winequality-red.csv")
    assert list(df.columns)[:2] == ["fixed acidity", "volatile acidity"] and df.shape == (24, 12)
    assert all(df[column].dtype.kind in "if" for column in df.columns)
    assert df["volatile acidity"].tolist()[:2] == [0.7, 0.88] and df["density"].iloc[0] == 0.9978
    assert df.attrs["notes"] == (ReadNote("csv.note.separator", {"separator": ";"}),)
    data = cr.table_to_data(df, cr.guess_target(df))
    assert data.num_features == 11 and data.class_names == ("5", "6", "7")


def test_semicolons_with_decimal_commas_and_thousands_points_stay_european():
    rows = ["price;weight;kind", *(f"1.{i:03d},5;{i % 4},25;{'ab'[i % 2]}" for i in range(12))]
    df = cr.read_csv_upload(csv_bytes(rows), "eu.csv")
    assert df["weight"].tolist()[:3] == [0.25, 1.25, 2.25] and df["weight"].dtype == np.float64
    assert df.attrs["notes"] == (ReadNote("csv.note.semicolon", {}),)
    ints = cr.read_csv_upload(b"a;b;kind\n1;2;x\n3;4;y\n", "ints.csv")
    assert ints["a"].dtype == np.int64


def test_tabs_are_understood_and_noted():
    df = cr.read_csv_upload(b"a\tb\tkind\n1\t2\tx\n3\t4\ty\n", "tabs.csv")
    assert list(df.columns) == ["a", "b", "kind"]
    [note] = df.attrs["notes"]
    assert (note.code, note.params) == ("csv.note.separator", {"separator": "\t"})
    assert note.text == "Read with '\\t' between columns."


def test_a_byte_order_mark_does_not_stick_to_the_first_column():
    df = cr.read_csv_upload("\ufeffa,b\n1,x\n".encode("utf-8"), "bom.csv")
    assert list(df.columns) == ["a", "b"] and df.attrs["notes"] == ()


def test_windows_1252_text_is_read_with_a_note():
    df = cr.read_csv_upload("größe,art\n1,Äpfel\n".encode("cp1252"), "alt.csv")
    assert list(df.columns) == ["größe", "art"] and df["art"][0] == "Äpfel"
    [note] = df.attrs["notes"]
    assert (note.code, note.params) == ("csv.note.windows_1252", {"name": "alt.csv"})
    assert "Windows-1252" in note.text


def test_trailing_separators_are_not_a_short_header():
    df = cr.read_csv_upload(b"a,b,kind\n1,2,x,\n3,4,y,\n", "trailing.csv")
    assert list(df.columns) == ["a", "b", "kind"] and df["a"].tolist() == [1, 3]
    assert df.index.tolist() == [0, 1]


# ---- UTF-16 and UTF-32 ----------------------------------------------------------------------------

TABLE = "größe,höhe,art\n1.5,2,Äpfel\n2.5,3,Birnen\n"


@pytest.mark.parametrize(
    "bom, codec, encoding",
    [
        (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    ],
)
def test_unicode_with_a_byte_order_mark_is_text_not_binary(bom, codec, encoding):
    df = cr.read_csv_upload(bom + TABLE.encode(codec), "unicode.csv")
    assert list(df.columns) == ["größe", "höhe", "art"] and df["art"].tolist() == ["Äpfel", "Birnen"]
    assert df.attrs["notes"] == (ReadNote("csv.note.unicode", {"name": "unicode.csv", "encoding": encoding}),)
    assert df.attrs["notes"][0].text == f"unicode.csv is {encoding} text; read it as such."


def test_excels_unicode_text_export_is_tab_separated_utf16():
    text = "sepal\tpetal\tspecies\r\n" + "".join(f"{i % 4}.5\t{i % 3}\t{'ab'[i % 2]}\r\n" for i in range(20))
    df = cr.read_csv_upload(text.encode("utf-16"), "excel unicode.csv")  # "utf-16": BOM, then little-endian
    assert list(df.columns) == ["sepal", "petal", "species"] and len(df) == 20
    assert notes_of(df) == ["csv.note.unicode", "csv.note.separator"]
    assert cr.table_to_data(df, "species").num_classes == 2


@pytest.mark.parametrize("codec, encoding", [("utf-16-le", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE")])
def test_utf16_without_a_byte_order_mark_is_recognised(codec, encoding):
    df = cr.read_csv_upload(TABLE.encode(codec), "nobom.csv")
    assert df["art"].tolist() == ["Äpfel", "Birnen"]
    assert df.attrs["notes"] == (ReadNote("csv.note.utf16_no_bom", {"name": "nobom.csv", "encoding": encoding}),)


def test_utf16_without_a_byte_order_mark_in_chinese_is_recognised():
    rows = "".join(f"{i}号,{i % 4}.5,{'甲乙'[i % 2]}\n" for i in range(20))
    text = "名称,数量,类别\n一号,1.5,甲\n" + rows  # 一 (U+4E00) is 00 4E: a NUL in a low byte
    df = cr.read_csv_upload(text.encode("utf-16-le"), "中文.csv")
    assert list(df.columns) == ["名称", "数量", "类别"] and df["类别"].tolist()[:3] == ["甲", "甲", "乙"]
    assert notes_of(df) == ["csv.note.utf16_no_bom"]


def test_broken_unicode_files_are_named_as_such():
    with pytest.raises(CsvError, match="UTF-16 LE byte-order mark but is not valid UTF-16 LE") as error:
        cr.read_csv_upload(codecs.BOM_UTF16_LE + TABLE.encode("utf-16-le")[:-1], "odd.csv")  # half a character
    assert error.value.code == "csv.bad_unicode" and error.value.params == {"name": "odd.csv", "encoding": "UTF-16 LE"}
    with pytest.raises(CsvError, match="looks like UTF-16 text without a byte-order mark") as error:
        cr.read_csv_upload(b"\x01\x00" * 64, "controls.csv")  # the UTF-16 pattern, but control characters
    assert error.value.code == "csv.utf16_no_bom"


# ---- reading a file: every bad upload has its own code ---------------------------------------------


@pytest.mark.parametrize(
    "data, name, code, message",
    [
        (small_table(), "shapes.xlsx", "csv.not_csv", "shapes.xlsx is not a .csv file"),
        (b"", "empty.csv", "csv.empty", "empty.csv is empty"),
        (b"   \n\n", "blank.csv", "csv.empty", "is empty"),
        ("  \n".encode("utf-16"), "blank16.csv", "csv.empty", "is empty"),
        (b"PK\x03\x04" + bytes(100), "book.csv", "csv.zip", "Excel workbook"),
        (b"\xd0\xcf\x11\xe0" + bytes(100), "old.csv", "csv.xls", "old Excel workbook"),
        (b"%PDF-1.7\n" + bytes(100), "paper.csv", "csv.pdf", "PDF document"),
        (b"\x1f\x8b\x08" + bytes(100), "data.csv", "csv.gzip", "gzip archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.csv", "csv.binary", "binary file"),
        (b"width,height,kind\n", "header.csv", "csv.no_data_rows", "header row but no data rows"),
        (b"only\n1\n2\n", "one.csv", "csv.one_column", "only one column \\('only'\\)"),
        (b"name,colour\nanne,red\nbob,blue\n", "text.csv", "csv.no_numeric", "no numeric columns"),
        (b"a,b\n\x81\x8d,1\n", "garbled.csv", "csv.not_text", "not readable text"),
    ],
)
def test_each_bad_upload_gets_its_code_and_message(data, name, code, message):
    with pytest.raises(CsvError, match=message) as error:
        cr.read_csv_upload(data, name)
    assert error.value.code == code and error.value.params["name"] == name
    assert isinstance(error.value, ValueError)


def test_a_file_over_the_limit_is_refused_before_parsing():
    assert cr.MAX_UPLOAD_MB < 20  # below the server's maxUploadSize, so this message is the one shown
    too_big = small_table() + b"1.5,2,a\n" * (cr.MAX_UPLOAD_BYTES // 8)
    message = f"big.csv is {len(too_big) / 2**20:.1f} MB.*up to {cr.MAX_UPLOAD_MB} MB"
    with pytest.raises(CsvError, match=message) as error:
        cr.read_csv_upload(too_big, "big.csv")
    assert error.value.code == "csv.too_large"
    assert error.value.params == {"name": "big.csv", "megabytes": len(too_big) / 2**20, "limit_mb": cr.MAX_UPLOAD_MB}


def test_too_many_rows_or_columns_are_refused(monkeypatch):
    monkeypatch.setattr(cr, "MAX_ROWS", 20)
    with pytest.raises(CsvError, match="has 30 rows; this page takes at most 20") as error:
        cr.read_csv_upload(small_table(30), "long.csv")
    assert error.value.code == "csv.too_many_rows" and error.value.params["rows"] == 30
    monkeypatch.setattr(cr, "MAX_FEATURES", 1)
    with pytest.raises(CsvError, match="has 3 columns; this page takes at most 2") as error:
        cr.read_csv_upload(small_table(10), "wide.csv")
    assert error.value.code == "csv.too_many_columns" and error.value.params == {
        "name": "wide.csv",
        "columns": 3,
        "limit": 2,
    }


def test_a_row_longer_than_the_header_is_named_by_its_line():
    with pytest.raises(CsvError, match="line 3 has 4 fields where the header has 2") as error:
        cr.read_csv_upload(b"a,b\n1,2\n3,4,5,6\n", "ragged.csv")
    assert error.value.code == "csv.ragged"
    assert error.value.params == {"name": "ragged.csv", "line": 3, "found": 4, "expected": 2}
    with pytest.raises(CsvError) as error:  # the first row: pandas would silently drop the extra field
        cr.read_csv_upload(b"a,b\n1,2,3\n4,5\n6,7\n", "first.csv")
    assert error.value.code == "csv.ragged" and error.value.params["line"] == 2


# ---- a first line that is not the header ------------------------------------------------------------


@pytest.mark.parametrize("separator", [",", ";"])
def test_a_title_line_is_refused_with_the_fix(separator):
    data = otto_csv(separator).encode()
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(data, "otto.csv")
    assert error.value.code == "csv.short_first_line"
    assert error.value.params == {"name": "otto.csv", "line": "Otto products", "fields": 1, "row_fields": 4}
    assert str(error.value).startswith("The first line of otto.csv has 1 field(s) but the rows below it have 4")
    assert "Skip the first line" in str(error.value)

    df = cr.read_csv_upload(data, "otto.csv", skip_first_line=True)
    assert list(df.columns) == ["id", "feat_1", "feat_2", "target"] and len(df) == 40
    assert df["feat_1"].iloc[0] == 0.5  # a decimal comma after ';'
    skipped = df.attrs["notes"][-1]
    assert (skipped.code, skipped.params) == ("csv.note.skipped_first_line", {"line": "Otto products", "fields": 1})
    assert skipped.text == "Skipped the first line (1 field(s)): Otto products"
    assert cr.table_to_data(df, cr.guess_target(df)).class_names == ("Class_1", "Class_2")


def test_a_title_of_two_fields_never_becomes_a_two_level_index():
    data = otto_csv(title="Otto products, 2024").encode()
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(data, "otto.csv")
    assert error.value.code == "csv.short_first_line" and error.value.params["fields"] == 2
    data = cr.table_to_data(cr.read_csv_upload(data, "otto.csv", skip_first_line=True), "target")
    assert data.rows.tolist() == list(range(40)) and data.feature_names == ("feat_1", "feat_2")


def test_a_header_with_fewer_names_than_fields_never_becomes_the_index():
    data = csv_bytes(["kind,size", *(f"{i},{i % 3}.5,{'ab'[i % 2]}" for i in range(12))])
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(data, "shifted.csv")
    assert error.value.code == "csv.short_first_line" and error.value.params["row_fields"] == 3
    df = cr.read_csv_upload(data, "shifted.csv", skip_first_line=True)
    assert df.index.tolist() == list(range(11))  # no leading column turned into the index


def test_scikit_learns_iris_csv_counts_line_is_refused_and_skipped():
    with pytest.raises(CsvError, match="holds counts \\(150 rows, 4 features\\), not column names") as error:
        cr.read_csv_upload(iris_csv().encode(), "iris.csv")
    assert error.value.code == "csv.counts_first_line"
    assert error.value.params == {
        "name": "iris.csv",
        "line": "150,4,setosa,versicolor,virginica",
        "rows": 150,
        "features": 4,
    }

    df = cr.read_csv_upload(iris_csv().encode(), "iris.csv", skip_first_line=True)
    assert list(df.columns) == ["x1", "x2", "x3", "x4", "y"] and len(df) == 150  # no row lost to a "header"
    [note] = df.attrs["notes"]
    assert note.code == "csv.note.counts_line" and note.params["columns"] == "x1, x2, x3, x4, y"
    assert cr.guess_target(df) == "y"
    data = cr.table_to_data(df, "y")
    assert (data.num_rows, data.num_features, data.class_counts().tolist()) == (150, 4, [50, 50, 50])


def test_a_counts_line_shorter_than_the_rows_and_with_semicolons():
    wine = "20,5,class_0,class_1\n" + "".join(f"{i}.5,{i % 3},{i * 2},1,2,{i % 2}\n" for i in range(20))
    with pytest.raises(CsvError) as error:  # 4 fields above rows of 6, as in scikit-learn's wine_data.csv
        cr.read_csv_upload(wine.encode(), "wine.csv")
    assert error.value.code == "csv.counts_first_line" and error.value.params["features"] == 5
    df = cr.read_csv_upload(wine.encode(), "wine.csv", skip_first_line=True)
    assert list(df.columns) == ["x1", "x2", "x3", "x4", "x5", "y"] and len(df) == 20

    semicolons = iris_csv(";").encode()
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(semicolons, "iris_eu.csv")
    assert error.value.code == "csv.counts_first_line"
    df = cr.read_csv_upload(semicolons, "iris_eu.csv", skip_first_line=True)
    assert df.shape == (150, 5) and df["x1"].dtype == np.float64
    assert notes_of(df) == ["csv.note.semicolon", "csv.note.counts_line"]


def test_a_real_header_of_numbers_is_not_a_counts_line():
    rows = ["1,2,3", *(f"{i % 4},{i % 3}.5,{i % 2}" for i in range(12))]
    df = cr.read_csv_upload(csv_bytes(rows), "numbered.csv")  # 1 is not the number of rows below it
    assert list(df.columns) == ["1", "2", "3"] and len(df) == 12


def test_skipping_keeps_line_numbers_of_the_file():
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(b"a title\na,b\n1,2\n3,4\n5,6,7\n", "late.csv", skip_first_line=True)
    assert error.value.code == "csv.ragged" and error.value.params["line"] == 5


# ---- user text is data --------------------------------------------------------------------------------

EVIL = "[click](http://evil.example).csv"


def test_a_crafted_file_name_reaches_the_params_verbatim():
    for data in (b"", b"PK\x03\x04" + bytes(10), b"name,colour\nanne,red\n"):
        with pytest.raises(CsvError) as error:
            cr.read_csv_upload(data, EVIL)
        assert error.value.params["name"] == EVIL and str(error.value).startswith(EVIL)
    df = cr.read_csv_upload("größe,art\n1,Äpfel\n".encode("cp1252"), EVIL)
    assert df.attrs["notes"][0].params == {"name": EVIL}


def test_a_crafted_first_line_reaches_the_params_verbatim():
    title = "**Products** [more](http://evil.example)"
    with pytest.raises(CsvError) as error:
        cr.read_csv_upload(otto_csv(title=title).encode(), "otto.csv")
    assert error.value.params["line"] == title
    df = cr.read_csv_upload(otto_csv(title=title).encode(), "otto.csv", skip_first_line=True)
    assert df.attrs["notes"][0].params["line"] == title


def test_column_names_and_cell_values_reach_the_params_verbatim():
    df = pd.DataFrame({"x": np.arange(20.0), "`kind`": ["*a*"] * 20})
    with pytest.raises(TabularError) as error:
        cr.table_to_data(df, "`kind`")
    assert error.value.params == {"target": "`kind`", "only": "*a*"}


def test_no_template_puts_markdown_around_user_text():
    for template in [*CsvError.templates.values(), *cr.NOTE_TEMPLATES.values()]:
        assert "`" not in template and "**" not in template and "](" not in template


def test_codes_are_namespaced_and_errors_and_notes_survive_copies():
    assert all(code.startswith("csv.") and not code.startswith("csv.note.") for code in CsvError.templates)
    assert all(code.startswith("csv.note.") for code in cr.NOTE_TEMPLATES)
    error = CsvError("csv.short_first_line", name="a.csv", line="t", fields=1, row_fields=3)
    again = pickle.loads(pickle.dumps(error))
    assert (again.code, again.params, str(again)) == (error.code, error.params, str(error))
    note = ReadNote("csv.note.dropped_rows", {"dropped": 1, "remaining": 9})
    assert pickle.loads(pickle.dumps(note)) == note == copy.deepcopy(note)  # st.cache_data and df.attrs copy
    assert str(note) == note.text == "Left out 1 row(s) with missing values; 9 remain."
    with pytest.raises(KeyError):
        ReadNote("csv.note.nonsense", {})


# ---- the iris demo and choosing columns ----------------------------------------------------------------


def test_the_iris_demo_has_150_rows_4_features_3_species():
    df = cr.iris_demo()
    assert "species_id" not in df.columns  # it would give the answer away
    assert cr.guess_target(df) == "species"
    data = cr.table_to_data(df, "species")
    assert (data.num_rows, data.num_features, data.num_classes) == (150, 4, 3)
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.class_counts().tolist() == [50, 50, 50]
    assert np.allclose(data.X, df[list(data.feature_names)].to_numpy())
    assert data.notes == ()


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


N = 20
KINDS = ["a", "b", "c", "d"] * (N // 4)


def test_rule_1_a_column_named_like_a_target_in_any_case():
    assert cr.guess_target(frame(Class=np.arange(N) % 3, x=np.ones(N))) == "Class"
    assert cr.guess_target(frame(**{" Species ": KINDS, "x": np.ones(N), "name": KINDS})) == " Species "
    assert cr.guess_target(frame(variety=np.arange(N) % 2, x=np.ones(N), kind=KINDS)) == "variety"
    assert cr.guess_target(frame(label=KINDS, target=KINDS, x=np.ones(N))) == "target"  # TARGET_NAMES' order


def test_rule_2_the_last_text_column_that_looks_like_categories():
    names = [f"product {i}" for i in range(MAX_CLASSES + 10)]  # one value per row: an id, not a class
    df = frame(kind=KINDS * 3, x=np.arange(60.0), name=names[:60])
    assert cr.guess_target(df) == "kind"
    assert cr.guess_target(frame(a=KINDS, b=KINDS, c=np.ones(N))) == "b"
    assert cr.guess_target(frame(x=np.ones(N), same=["one"] * N, kind=KINDS)) == "kind"


def test_a_text_column_of_classes_wins_over_a_feature_called_y():
    df = cr.read_csv_upload(
        csv_bytes(["x,y,kind", *(f"{i % 5}.5,{i % 3}.25,{'ab'[i % 2]}" for i in range(N))]), "xy.csv"
    )
    assert cr.guess_target(df) == "kind"


def test_rule_3_a_column_named_y_then_rule_4_the_last_column():
    assert cr.guess_target(frame(x=np.ones(N), y=np.arange(N) % 2, z=np.ones(N))) == "y"
    assert cr.guess_target(frame(a=np.ones(N), b=np.arange(N) % 2, c=np.ones(N))) == "c"


def test_a_running_row_number_is_never_the_target():
    assert cr.guess_target(frame(a=np.ones(N), b=np.arange(N) % 2, id=np.arange(1, N + 1))) == "b"
    assert cr.guess_target(frame(x=np.ones(N), label=np.arange(N))) == "x"  # a "label" that counts the rows
    assert cr.guess_target(frame(id=np.arange(N), row=np.arange(1, N + 1))) == "row"  # nothing else to pick


def test_a_replaced_file_gets_its_own_class_column_not_its_id():
    first = cr.read_csv_upload(small_table(), "shapes.csv")
    assert cr.guess_target(first) == "kind"
    otto = csv_bytes(["id,feat_1,feat_2,feat_3", *(f"{i + 1},{i % 5},{i % 7},{i % 3}" for i in range(N))])
    replaced = cr.read_csv_upload(otto, "otto.csv")
    assert "kind" not in replaced.columns and cr.guess_target(replaced) == "feat_3"


def test_text_columns_and_row_numbers_are_left_out_with_notes():
    df = pd.DataFrame(
        {
            "id": range(1, 21),
            "name": [f"n{i}" for i in range(20)],
            "size": np.linspace(0, 1, 20),
            "kind": ["a", "b"] * 10,
        }
    )
    data = cr.table_to_data(df, "kind")
    assert data.feature_names == ("size",)
    assert data.notes == (
        ReadNote("csv.note.text_columns", {"columns": "name"}),
        ReadNote("csv.note.row_numbers", {"columns": "id"}),
    )
    assert data.notes[0].text == "Not numeric, so not used as features: name."
    assert "running row number" in data.notes[1].text


def test_a_numeric_target_and_a_boolean_feature_work():
    df = pd.DataFrame({"flag": [True, False] * 10, "x": np.arange(20) % 3, "grade": [3, 1] * 10})
    data = cr.table_to_data(df, "grade")
    assert data.class_names == ("1", "3") and data.feature_names == ("flag", "x")
    assert data.X[:2, 0].tolist() == [1.0, 0.0]


def test_one_class_in_the_target_is_refused():
    df = cr.read_csv_upload(csv_bytes(["x,kind", *(f"{i % 4},same" for i in range(20))]), "one.csv")
    with pytest.raises(TabularError, match="the target 'kind' has only one class \\('same'\\)") as error:
        cr.table_to_data(df, "kind")
    assert error.value.code == "tabular.one_class" and error.value.params == {"target": "kind", "only": "same"}


def test_hundreds_of_classes_are_refused():
    df = cr.read_csv_upload(csv_bytes(["x,code", *(f"{i % 5},item-{i}" for i in range(300))]), "ids.csv")
    with pytest.raises(TabularError, match=f"300 different values.*at most {MAX_CLASSES} classes") as error:
        cr.table_to_data(df, "code")
    assert error.value.code == "tabular.too_many_classes" and error.value.params["classes"] == 300


def test_no_numeric_feature_or_no_such_column_is_refused():
    df = cr.read_csv_upload(csv_bytes(["name,score", *(f"n{i},{i % 3}" for i in range(20))]), "names.csv")
    with pytest.raises(CsvError, match="besides the target 'score' there is no numeric column") as error:
        cr.table_to_data(df, "score")
    assert error.value.code == "csv.no_features" and error.value.params == {"target": "score"}
    with pytest.raises(CsvError, match="there is no column 'colour'") as error:
        cr.table_to_data(df, "colour")
    assert error.value.code == "csv.no_column" and error.value.params == {"column": "colour"}


def test_missing_values_name_the_columns_and_can_be_dropped():
    rows = [f"{i},{i % 4},{'ab'[i % 2]}" for i in range(30)]
    rows[3] = "3,,a"
    rows[8] = ",,b"
    rows[9] = "9,1,"
    df = cr.read_csv_upload(csv_bytes(["x,y,kind", *rows]), "gaps.csv")
    assert cr.missing_counts(df, ["x", "y", "kind"]) == {"x": 1, "y": 2, "kind": 1}
    with pytest.raises(CsvError) as error:
        cr.table_to_data(df, "kind")
    assert error.value.code == "csv.missing_values"
    assert error.value.params == {"columns": "x, y, kind", "cells": "1, 2, 1", "rows": 3, "total": 30, "remaining": 27}
    assert str(error.value) == (
        "Missing values in x, y, kind (empty cells per column: 1, 2, 1): 3 of the 30 rows "
        "have a gap. Drop those rows to train on the other 27, or fill the gaps in the file."
    )
    data = cr.table_to_data(df, "kind", drop_missing=True)
    assert data.num_rows == 27 and 3 not in data.rows and 8 not in data.rows and 9 not in data.rows
    assert data.notes[-1] == ReadNote("csv.note.dropped_rows", {"dropped": 3, "remaining": 27})


def test_gaps_in_an_unused_text_column_do_not_matter():
    df = pd.DataFrame({"x": np.arange(20.0), "comment": [None, "ok"] * 10, "kind": ["a", "b"] * 10})
    assert cr.table_to_data(df, "kind").num_rows == 20


def test_notes_on_reading_the_file_reach_the_data_first():
    text = "id;a;b;kind\n" + "".join(f"{i};{i % 3},5;{i % 4};{'xy'[i % 2]}\n" for i in range(20))
    data = cr.table_to_data(cr.read_csv_upload(text.encode(), "eu.csv"), "kind")
    assert data.X[:3, 0].tolist() == [0.5, 1.5, 2.5]
    assert [note.code for note in data.notes] == ["csv.note.semicolon", "csv.note.row_numbers"]
    assert all(isinstance(note, ReadNote) for note in data.notes)
