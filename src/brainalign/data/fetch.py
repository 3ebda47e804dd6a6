"""Download public datasets from their upstream, verified and resumable.

``fetch(name)`` puts a dataset into ``data_dir() / <folder>`` in the layout its
reader expects. Every file is streamed to ``<file>.part``, checked against the
published SHA-256 (the upstream manifest, and the digests embedded below where we
know them) and only then renamed into place with :func:`os.replace`, so a final
name always holds a verified file. An interrupted download leaves its ``.part``
behind and the next call resumes it with an HTTP ``Range`` request; a server that
ignores ``Range`` (answers 200 instead of 206) gets the file restarted cleanly.

A mirror replaces every upstream at once: with ``BRAINALIGN_FETCH_BASE_URL=URL``
each dataset is fetched from ``URL/<name>/`` (``URL/eegmat/SHA256SUMS.txt``,
``URL/n170/data/visual/N170/...``: each dataset in its upstream layout under its
registry name); an explicit ``base_url`` still wins. Checksums are the same.

Only :mod:`urllib.request` is used for HTTP, so fetching adds no dependency.
Every failure (host unreachable, file missing upstream, checksum mismatch,
manifest missing) is a :class:`~brainalign.errors.DataError` naming the file.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from tqdm.auto import tqdm

from brainalign import __version__
from brainalign.config import data_dir as resolve_data_dir
from brainalign.errors import DataError
from brainalign.utils.io import file_digest

__all__ = ["DATASETS", "MIRROR_ENV", "DatasetSpec", "RemoteFile", "fetch", "list_datasets"]

#: environment variable naming a mirror of every dataset (``<mirror>/<name>/...``)
MIRROR_ENV = "BRAINALIGN_FETCH_BASE_URL"

#: seconds to wait for a connection or for the next block of a response
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16
_USER_AGENT = f"brainalign/{__version__} (+urllib)"
_PART_SUFFIX = ".part"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset.

    ``path`` is where it goes under the dataset folder (POSIX, relative);
    ``remote`` is its path under the dataset's base URL (default: ``path``) and
    also its name in the upstream manifest. ``subject`` and ``run`` tag the file
    so that ``fetch(subjects=..., runs=...)`` can limit a download; untagged files
    (metadata, licences, stimuli) are always fetched. ``sha256`` is the digest we
    know independently of the upstream manifest, if any.
    """

    path: str
    remote: str | None = None
    sha256: str | None = None
    subject: int | None = None
    run: int | None = None

    @property
    def url_path(self) -> str:
        return self.remote or self.path


@dataclass(frozen=True)
class DatasetSpec:
    """A downloadable dataset: where it lives upstream and which files it has.

    ``manifest`` is the path (under ``base_url``) of a ``sha256sum``-style list
    (``<hex digest>  <remote path>`` per line), or ``None`` when upstream publishes
    none, in which case every file must carry its own ``sha256``.
    ``default_subjects`` limits a download when the caller names no subjects
    (``None``: all subjects).
    """

    name: str
    folder: str
    base_url: str
    description: str
    license: str
    files: tuple[RemoteFile, ...]
    manifest: str | None = None
    default_subjects: tuple[int, ...] | None = None


# --------------------------------------------------------------------------- registry
# sha256 of the published files held in the project's shared test data
# (computed with ``sha256sum``); they double-check the upstream manifest.
_EEGMAT_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "Subject00_1.edf": "ac46d8c9905d6750c8f07235f2e0d96771882cad8af06a8e32d88cfd16c376ed",
        "Subject00_2.edf": "19476db6d5f2bcd40e417a7e1f2f9b276af05cf2c93a52a2be4d7524b4e9885c",
        "Subject01_1.edf": "e8c8bd03146127f6084e36282b20bf9236cd5e5459e8a9129b05963bdbbb461a",
        "Subject01_2.edf": "da7ad48824d5c92a5a12b90495f4ceca98dbc91fca1d3e85f009dbc640b32ca7",
        "Subject02_1.edf": "02da547be13c67b310a020d48be83be6a1faad72b26519e8084038aea1aa30f8",
        "Subject02_2.edf": "2ff3c97cbc6be7c4b3e43df85f42621d2837bd860463747557a6c3a558d802ee",
        "Subject03_1.edf": "8f22c7eb40e2d2b2f61dadd874172f395fed9ca83c843e9d92b492ec2b3d4f41",
        "Subject03_2.edf": "d4792fe50ad51d7ad607caeaf3c24f2d19087cb96311c4c2cbdfdd6418f56cf0",
        "Subject04_1.edf": "0c96ec8a36767673772d35c1c8e8328c6a51f18e83b806f5776d02f388c65a73",
        "Subject04_2.edf": "4455d8e910ac8f5a18a5c050e2b544d147b092458cd135c04e3030f2ee63f90f",
        "Subject05_1.edf": "844f7c4c0868f64003f50d02ecd9db3a7e60cd51df66f9ad2a460e279001eaf8",
        "Subject05_2.edf": "651a9f1cbe3e85605ef6a8e3c13c8d8d130e1c41bb8ac23ac3c2fa9ab63665f7",
        "Subject06_1.edf": "cd5697ace53d4a824b7a89846a0a2e2ca40ec7ee661488551d44d6f2a301b5c1",
        "Subject06_2.edf": "206452b3d030ba9f04b43f2747bcd24ecd0466e7abe27676ad054428286cf24d",
        "Subject07_1.edf": "3991d7b4667065de53f80e5b40b69cee5c819f62c7352dca3b06ca5333fd1308",
        "Subject07_2.edf": "f8381e8f22a118f772e316bfb4c87f2a41581d9590a7c58f3b8c95c62a1789f1",
        "Subject08_1.edf": "02acf02d25d333fd9bc38b9b513b9f72072d5bd36b6ffa5a9a5be6f54fd9b853",
        "Subject08_2.edf": "461c2f9c95b5d1128e32bd1272e44b3d5366493f57d88092278b440a7b30d0df",
        "Subject09_1.edf": "68f2c002f30831ead8fc9418a24fe044419f430686beec62ddb46ab2c731036a",
        "Subject09_2.edf": "05d4449075a6e62d61737a939cf142b27f84b60a9bdad788fd87a9fc9737b3b9",
        "Subject10_1.edf": "25a392a6816c74da10539694e51210030742ced96379761afe02aa05f60bfcc8",
        "Subject10_2.edf": "aa76531d0a6f72ebc163014383a42fdd7252ea310559d270943922607e51a13a",
        "Subject11_1.edf": "8c85e9c32acbb18145bbc29126c19239beeba53c136d3014de285d5d359df9ac",
        "Subject11_2.edf": "df36afd690987a373f0de02b91059760e155a7bf49732d05b7cce42bbe4de354",
        "Subject12_1.edf": "e3e6985558b94bdbec4ec93745b353dbd090b3e160bc9e97546ea9b5e416c37d",
        "Subject12_2.edf": "984c866e886a4c17f0f9196cc0ec072a3b492ef7af92d4dea48a451a433cfd13",
        "Subject13_1.edf": "226fc6946d5b2181f4a219530b7eb642561d3acd8257a224d14c6aecd50e92bb",
        "Subject13_2.edf": "12cb297ce1c1506d07418353900bcea3472b5c8bdb26d73db3c25c07d752ae71",
        "Subject14_1.edf": "e9b5d97eb5dd4778dfb6e279f3e03b27cf4ad5881641f2eaabedeaf2b0475ee5",
        "Subject14_2.edf": "4c0c71fc2f7962efea32593eeadeb96c38c44db6a203e9a6353662cd8b941544",
        "Subject15_1.edf": "3bfa5357e3cf6bb849f0e950be34f14ee10f90348a1d1246c863936ce923e07c",
        "Subject15_2.edf": "b107158d3d23fe53559712db1a13416391dd963038b1c73918de7483343393ad",
        "Subject16_1.edf": "2e59fdf714c36f6c1520f5011aba46dca543e0561e98c3ca509dfe6112709130",
        "Subject16_2.edf": "451eea5902ab279785fa98d474837c97ba2bc389b4b46f914a408555744b1774",
        "Subject17_1.edf": "cc6be6007c4e029ee7d32b754fa07d1f514db9e8dce82a167b99af45caab7610",
        "Subject17_2.edf": "9c9a0cbf89ed1152244b7c3d191c584cd59d3d99ff067e1610010d805cee62af",
        "Subject18_1.edf": "ba4323db350812274637dafd018c5563ad8f46d8fc302ef0e3be0c5b6a4016a8",
        "Subject18_2.edf": "5d8425c622e33be4990c4e1c91bb8411f448a9594393ee46738d96b23dfb7646",
        "Subject19_1.edf": "7cd2b2609e184c777b613b8522ae44f84396d9eedcf857821ba535c701f88a83",
        "Subject19_2.edf": "e9c53b3bb46cbbfef45cfed8d56d67a2d145f16babaa65e6eb0f1284958fc9c2",
        "Subject20_1.edf": "d3f5eea33d1f0fbf6483a38bd9fbd929ef32bd9266a6e9c6c0a883520f9bd5ee",
        "Subject20_2.edf": "f726b0b9bfd3a3300819f111af0f3f28151db03fe84f3b4531d8334b55333fd4",
        "Subject21_1.edf": "77e3e122db2e1d8a302c125c23c63e0fe19f7c9850118f6215213a8e3331b4ad",
        "Subject21_2.edf": "036cf82700fc3a635b390d4e72cb5ab3a93321bf8024d33bae963f4d6ac826dd",
        "Subject22_1.edf": "656b1b96f5aa8118e3412ef816b918a085a38c29379a25fa4ecc862bd481684f",
        "Subject22_2.edf": "814190dabd5a01f6532f9229458acd8e2fe995ae9a6e790109dd638c9eb46d92",
        "Subject23_1.edf": "66204fb1ded55bf94a11f2fc33be3f2e54d2b0cac3663b4b1210a4deeaa97049",
        "Subject23_2.edf": "ff7679c7e2af46a6ba16323c3239b461bbffce0672cfaaca746e721b18bb47bd",
        "Subject24_1.edf": "8fc47eb62b9c3cfbf378996631023a699f1c116dc09d300e45d6e78660d16309",
        "Subject24_2.edf": "06fbe6d6858f20bad550d379f80cea24e4758b4c858c0802e3cb076ecfeb70b6",
        "Subject25_1.edf": "034d43d65ba88c9ae8006ef2f143a0b2e8b9c398b31b3b3d04c50820e385b27f",
        "Subject25_2.edf": "249da1cdf89e86bc94dcc7c7e15327b4be1ec57af101afbe54fc225862362933",
        "Subject26_1.edf": "aea2dbcb71f24ba64abbed986a52911641c464f41b4a0f0ec17f887c5d1e32a2",
        "Subject26_2.edf": "327d6dba1a7a9afbfab376cfd62d0af8f57e875d66020bfcdf67be384376cb1b",
        "Subject27_1.edf": "4da0de4c55117b3471f177ac63a91a40eacc55c954decbe93d1012c60635b7ac",
        "Subject27_2.edf": "0261aa7b798e43d06405349a499c96fb5fe2cdaaa0c150c1e3c0ab3bd70575f9",
        "Subject28_1.edf": "91482e34abc5832a4cee054d83698c87a717d0b2a5b82a18841adc5dc1ca9a24",
        "Subject28_2.edf": "2585a5fa2b1288eb4924aec00d430e7456b3f0dab77363099476d67c8f0d35e1",
        "Subject29_1.edf": "3c89cf82670f3441fb0e9fa8fb67b7861914f28fb9b8cf01d750ff6e8ab70e50",
        "Subject29_2.edf": "6c3817cba4fd98ae1b42b914fcce96796184ac7c3484ad1e9cfeb0ad89bda61f",
    }
)

# GitHub publishes no manifest for eeg-notebooks, so these digests are the only check.
# Keys are the local layout (``subjectN/sessionM/*.csv``, ``stimuli/{faces,houses}``).
_N170_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "LICENSE-eeg-notebooks": "1f49e2428ef67da6113aceaf4879d21ff2d9637fa8503448a5bc4c165aa9d618",
        "stimuli/LICENSE.txt": "538dd43c195a3a08fee5e7a08b8aacae60c1e28260ca9169b317c722c3342dda",
        "stimuli/faces/Annie_1.jpg": "e41d2a5ad72685a3163077cc0dffa7a50458b0b79a104cb5904022ce4ea54e42",
        "stimuli/faces/Annie_2.jpg": "f14f6a7da0d9dfc45de7c908178c27d5be4ce3a9e98e20a88e0f630bce8cf213",
        "stimuli/faces/Annie_3.jpg": "b61106f0486b1705478a6329469fc5d59d70106685510d8c50c5e33ba63e9095",
        "stimuli/faces/Annie_4.jpg": "85f9afa3c0f39d9c100eb162992b58939db6c04442327fd7cf470d98be16d95c",
        "stimuli/faces/Blake_1.jpg": "b46843fa090f0af42a52c3edf60be87e319cb6d3cb469441bf0ad312ed42919e",
        "stimuli/faces/Blake_2.jpg": "449cbfb470ba1ab7cfee0c03b250d626db1d590e310f85720c551c6ba3ef0ece",
        "stimuli/faces/Blake_3.jpg": "1658c618b83615166e54a39cb09cb58aae660cbdfc0602d66ca1a7aff330ac7e",
        "stimuli/faces/Blake_4.jpg": "61769962296d9e2fcf51f82a8b6ecc79c29b7cad8695917fc77a00045eff1646",
        "stimuli/faces/Don_1.jpg": "76c5c106533b7b7763b9d5904c4e2716296dcda09c95065523a2dda961cbec94",
        "stimuli/faces/Don_2.jpg": "9c0de92be85f6758d8905407b114cd54257ec1473d7659ef1be3f85241b6a400",
        "stimuli/faces/Don_3.jpg": "51cfc067c0d117212b9b78131097a597334bf0cc42f0608edc5b0ae02ab23905",
        "stimuli/faces/Don_4.jpg": "e12783ca3d39bc0c42f82f491002b2aa269372ed9f837afd358b1fe61f620449",
        "stimuli/faces/Estelle_1.jpg": "209c8a43d9e22cebeaaec8c6090cb8990767647ffc43cb9defda1bc073a5e345",
        "stimuli/faces/Estelle_2.jpg": "e917d0373a78fc5abadcfc9202cb015a24f21ba14f598d8244e4022d126fd3aa",
        "stimuli/faces/Estelle_3.jpg": "2164735102df6ce5b939a3f45c42c5d696e115a43d87d17a605c1faa29d245a1",
        "stimuli/faces/Estelle_4.jpg": "bac4d186566bc99ca99303f2a85137808b32d7e45beb87d4e2fd0974abb4f077",
        "stimuli/faces/Frank_1.jpg": "ddacc0579e983467bfc8b01211f1edf7b08c875e6db18031daa22fa0271aca26",
        "stimuli/faces/Frank_2.jpg": "f194177facc91b48291be43f27ecdd1c703cd3137811259246859f11a5708eb0",
        "stimuli/faces/Frank_3.jpg": "d5c88ca63f3d73fc3e654e03a998f8a1c8cb3e1ce7df1a67bc2d186a5a3f513a",
        "stimuli/faces/Frank_4.jpg": "b241e141eb6234ed11b98341ea5654d441ab6f3dff4ae34c17d54b73e7c6d490",
        "stimuli/faces/Janie_1.jpg": "fc8d9332fc00d3ee003764ae6aef513efd0e1aa64d52198792daa4d8002e9da1",
        "stimuli/faces/Janie_2.jpg": "be5660ad1312847516079f8f7fc03175cc7c876a6ae98bc32a8d59b7eec50ef3",
        "stimuli/faces/Janie_3.jpg": "ad5970618a5560ba92502a7d4d3d083f85800fa7c4e46bec18b69d36a77fbc56",
        "stimuli/faces/Janie_4.jpg": "8e2c84c1d62365ff56a858d851ad8310d3626982d725580cdfc0e5796ca4bac4",
        "stimuli/faces/Joan_1.jpg": "af7b9258e24fecbe2112d9d9bcf946c150d81b25450621b552ad1d1f58999cd2",
        "stimuli/faces/Joan_2.jpg": "868b467f3bcd4e12a5d608be1fcf96f503e9cabaf5d83869f72cdcb540087826",
        "stimuli/faces/Joan_3.jpg": "3851f6c56da5b92412e21832e4198fd6ff624a51ef66d647d079a678b067e026",
        "stimuli/faces/Joan_4.jpg": "73600e8ef0820fd54a9d8c93c10395be7047ad1a614c2b91d7ee2ede80ee73db",
        "stimuli/faces/Jodi_1.jpg": "2b2847c4c86ce68c5e437933ac4283c36fc1a676d5a69b858b8442208a24fa84",
        "stimuli/faces/Jodi_2.jpg": "08b4b56487c079b2cf63f8d388a78b98a464ac65ed128094f7d0585c0f20b401",
        "stimuli/faces/Jodi_3.jpg": "d422cc9c9aaf6450f55091b2da777f4d67356d9ba5834195101400af38895da0",
        "stimuli/faces/Jodi_4.jpg": "6938748d9ebc4bdca8f35b3239ad0d432ec5058d598ba633c96852dfde24b975",
        "stimuli/faces/Joe_1.jpg": "e4e11abadd3a91c0d4321667da649c1ea61b89a51ea9a841dd72adc74d15e5ea",
        "stimuli/faces/Joe_2.jpg": "b58388019d7110239cbd7c8fa467aba2359701842730700af47387b66e9b59c0",
        "stimuli/faces/Joe_3.jpg": "5ef1a5a460ba67186ed49a9bf92a2b3cb81d46780b37f9f89ae44bdd84e11587",
        "stimuli/faces/Joe_4.jpg": "2d48641fa1e29337e9323260c31cd38561af3e694dc168edbeb577036b23a553",
        "stimuli/faces/Tim_1.jpg": "8e03cabe1e74d8447a2d61c37ddbe5cae81d4fe57554c3ea90c9d57eecca24e3",
        "stimuli/faces/Tim_2.jpg": "cb88f8d25cc591006fcdddac512d28f3db45c5e555b2ade37a43dc2f94ab8cf4",
        "stimuli/faces/Tim_3.jpg": "42e887c9c25f4705db93209949efb235cdcb14b65f18568f9176a9c6295988eb",
        "stimuli/faces/Tim_4.jpg": "6001ee3dfae5cd40cebc005b5d7a1974d25bbc542b36a2ecb6abde4b0d8b4715",
        "stimuli/faces/Tom_1.jpg": "20f710242480a63c38dca4b2ae1193d07a1bfe6b07a368ab4d5e2f6b73942b14",
        "stimuli/faces/Tom_2.jpg": "0fa0e9618cf417d8d95186cd9266c4edd145401af97dbacd96bf9e5f7e21411f",
        "stimuli/faces/Tom_3.jpg": "43a1e70e0cae67a15c18b1d65b44c8ae4cf141ef4b6ac3936c602e996baa1a05",
        "stimuli/faces/Tom_4.jpg": "991fed386dc3c8d830a05a972b0933491ea26783c76694705abc56f3a5ca6201",
        "stimuli/faces/Wallace_1.jpg": "6fe26fc1e3066152d11650c6ed7e95be65e036e1e4eff6e55b01972039413509",
        "stimuli/faces/Wallace_2.jpg": "9ec9770e7307c8b6e9c8e2b20365a01d9a88a8c58a039ed8e4f9dd3675cd64b0",
        "stimuli/faces/Wallace_3.jpg": "c878141ead9683de05218c77a168812670bf26e1a10460192da7bc2d7c9060bb",
        "stimuli/faces/Wallace_4.jpg": "988bcaf2826bbed1e8f042bb7888b8b5323e2c2d682df446b990839fbfe666f7",
        "stimuli/houses/house1.1.jpg": "054b5bf4d56cda99697149b7808c85fa0806d6561ee10d6d8b66d25d5fbeaf70",
        "stimuli/houses/house1.2.jpg": "c0fdfc8310225221d87bb4df5978c44fae3f2679f95ef5bb495981801bdebee0",
        "stimuli/houses/house1.3.jpg": "3cffb2c9705a6d4b9953824a7939abb2f57f89d5dd76318e5c1f31b659917951",
        "stimuli/houses/house1.4.jpg": "bd03754b1dd9abe70becd0da3e4c8fab1abbea2ccdc80de4c109fd44c8f1f1a8",
        "stimuli/houses/house10.1.jpg": "15280e90c4ed636a21240b40e4c94fd302378232bc7a1b7c336c85be8f4f1471",
        "stimuli/houses/house10.2.jpg": "0b12419027a18378870cb1e67dbd1791eee1249699c1f21d37b1458ad0f8ae2e",
        "stimuli/houses/house10.3.jpg": "cbd89e857c0b3108daee3b083897817699eb9b3e0e6ed5e99d7b82a817c6674a",
        "stimuli/houses/house10.4.jpg": "7213b8c103b2cb4238edf30b8a196dce3977d43ab60ffa8e7158b42bf14bc9c4",
        "stimuli/houses/house11.1.jpg": "b090d68862b2e2ad8caffda5d8f2d85c18836d5f62a462cd06e33933e52985fc",
        "stimuli/houses/house11.2.jpg": "39e87b247ae7dffd074f9a849b7af349e7f48d7dcf367aee017131ea095bb376",
        "stimuli/houses/house11.3.jpg": "4c05b751a6c402dd1f0c91194634f66782c90c98ea2df936762fd026900034ec",
        "stimuli/houses/house11.4.jpg": "a48c863a22d1507df0304c02f4489c7d8bd319ae251faedebe39a6f6e3685ee0",
        "stimuli/houses/house12.1.jpg": "e378758c4415d9353de024be3959ca76a5291eb033f1116c157b8bdcddf15ec9",
        "stimuli/houses/house12.2.jpg": "e9f5ec60ee679e98522eb706cea98fe584dd8991e93fa14d4548a5f80fd55f84",
        "stimuli/houses/house12.3.jpg": "406958305d98c2468ca014c049df6a5474331de831510fc743ced6d5e2e2a7eb",
        "stimuli/houses/house12.4.jpg": "d328b53d3534ebf0be9b46981f6da10981ce4f6b39ae7f6f9b3260fbfd301bbd",
        "stimuli/houses/house2.1.jpg": "d0eb96cc4d123b81ead815770b56151e1c49beef0c5808fb00499689b3cd5c30",
        "stimuli/houses/house2.2.jpg": "c9a6d5a278af2cb497538885f1a0dcc18cc9a921ac77d46027a012ac75114093",
        "stimuli/houses/house2.3.jpg": "58d011f1ac2c267ed7100d7da91cfb02e2aafe2314d750412fadaccb37268eec",
        "stimuli/houses/house2.4.jpg": "6972afbe5212af0a000dd219f4c67a021299c4606ca166cdbc97ec750333dc0d",
        "stimuli/houses/house3.1.jpg": "7f580c3ad167fdf4cfd967b2b606fdf26a554e27424a45b2b755b727bec0340d",
        "stimuli/houses/house3.2.jpg": "46babfd0a8923daaed018ea15e563a1161cee4d249256ffd4ead743ba2a7c9e4",
        "stimuli/houses/house3.3.jpg": "101fa997f1a4685c32c800c0746032ea99d7d14dfb804ae303000b8dba1ffc05",
        "stimuli/houses/house3.4.jpg": "33d5646d30b947dcae56ccb28da8d4e6bcced9dafd9ef269c4e4b82d1dea4ba0",
        "stimuli/houses/house4.1.jpg": "30d390576a862a1af8b93c1ecd28cae8b4913a50d175dc7d84f1d97f8522c9e5",
        "stimuli/houses/house4.2.jpg": "01ae089f5bebe8a2431dfef397117f612bf499a3293ae2185d6e48b3f8d9f902",
        "stimuli/houses/house4.3.jpg": "cc86fb9b1ba2e0c36be076dfb85a8d7b29446cc9da788548d3d2254e6d23cc3d",
        "stimuli/houses/house4.4.jpg": "87cd01910e196fd9a9167f9ddafd7a360487bb50e126165e75f18c3bf6654424",
        "stimuli/houses/house5.1.jpg": "72e8b6fb2ab0167d904c51a2bd8408549123942fad30da170ca4c7e4ddea37e9",
        "stimuli/houses/house5.2.jpg": "295317247431b6dbe6c5d8b58f085af2573654ade776385b515791063692e8a8",
        "stimuli/houses/house5.3.jpg": "608b6458bb688cc8c61d876a1e791d2d3b5c990cac58e66a78225db24aecab15",
        "stimuli/houses/house5.4.jpg": "017adfef426c416f7a0637a98971355639c010fedfb3bd5b6cfe6c6430ed9d37",
        "stimuli/houses/house6.1.jpg": "501f6e2d114826867f4f95f3a5bffeab0bf49a287d5a890d1b1365499f5f5dc7",
        "stimuli/houses/house6.2.jpg": "4ede56606ab83049e41c0e44d0c5f77bac4064444a1ac007ec1728035b1bcc5e",
        "stimuli/houses/house6.3.jpg": "84213a141875eabe80a9007254abc3a7a04794ad76b05694047c9da98933b1ff",
        "stimuli/houses/house6.4.jpg": "e16e0f93101075b52c4948e9c3a31d4a01dcf2c3c2ab9c6e8f2cdbb54559a52e",
        "stimuli/houses/house7.1.jpg": "dea59a155f3d05979829d0c895f3b999ada32d396772b10bdc472e50679b9f70",
        "stimuli/houses/house7.2.jpg": "ba54928e3ea896c058e7af1adb4c51f94031f3d7258eb5caca4219a66e145102",
        "stimuli/houses/house7.3.jpg": "50f47564da68abec8ca08b964b5e3b4f603744f299c18b85bf93cad06ad87b1a",
        "stimuli/houses/house7.4.jpg": "b99f67e227475519899cf322ec7da3cd5a3d905b719e0704236b19cbb22a529c",
        "stimuli/houses/house8.1.jpg": "faf952989204bc36bd8c80d73515ccb08cbc5096733c80612cf4b376b54ba270",
        "stimuli/houses/house8.2.jpg": "16023aa667f74a658ecbe619e133841077affef3d44ba786203cc77e47181d71",
        "stimuli/houses/house8.3.jpg": "03222ad46f5c3e1e0fa0a673c4e3a142be2c16a0944d6d3cecd9e2a93045ff3a",
        "stimuli/houses/house8.4.jpg": "86f071828edafc3e67c26e24b6bb680d43287894c3f36434446c0492f49ea074",
        "stimuli/houses/house9.1.jpg": "cd91f217b678a6f76db581c90ddc27fb2249dc4e8385d2657435dc712694e646",
        "stimuli/houses/house9.2.jpg": "1c7bb6c655df6662b4e300ac134b3c173001598d2fae62713383c84da300b0ba",
        "stimuli/houses/house9.3.jpg": "e1d0e133d42079cd16b5a51667c40b5c11d62c1c02d8bbe14f5ce6d5fb1459e9",
        "stimuli/houses/house9.4.jpg": "d8eb9f2eebc4744f7011d9369eaacbf06850effdba663fbf18547368c16b83ef",
        "subject1/session1/data_2017-09-13-15.30.01.csv": "f0b0732555601a258f0764f4c3f4d6d8826977893b4fd2a742199f34e2d3ca99",
        "subject1/session1/data_2017-09-13-15.32.50.csv": "77d013eadb1af31e2f8aa07733e4027cf338119ca7bd5af054b10f2b92cf959e",
        "subject1/session1/data_2017-09-13-15.35.26.csv": "ea9c15c8a96e501fbd5a042a97b651c36e73813e09c7d305a26f8e3a5aab5939",
        "subject1/session1/data_2017-09-13-15.40.17.csv": "6fb52e15b0bbbd268147f3950688a1d10cca7532c06997762905617ca8fb0f75",
        "subject1/session1/data_2017-09-13-15.42.33.csv": "b8b2de836288ea2ee0fcff88261cf153fc69389c9780059041471d4f4921d15a",
        "subject1/session1/data_2017-09-13-15.45.08.csv": "e80e5280bff9aef8ea05abff9e394c57623fcaad7685ed6b690766f139dacf11",
        "subject10/session1/recording_2018-06-06-14.34.14.csv.csv": "dafb98d211ae32a81ee42ab2fdc8db1db1d3ecf7b36acfc9c42b1e3d94adca86",
        "subject10/session1/recording_2018-06-06-15.06.45.csv.csv": "3f501a5ca6e719068b165832cf3537cb4631ad6de710336bb406ac78a1887feb",
        "subject10/session2/recording_2018-06-06-14.42.27.csv.csv": "1418f41b8389b85f5b507825adfc302c722bf82189e064449a470b9da71101cd",
        "subject10/session3/recording_2018-06-06-14.45.33.csv.csv": "7abcc9d142496c4bc8a3be83a64886572d4e470c56958daa9e7f3893e35d7f3c",
        "subject11/session1/recording_2018-06-06-18.42.19.csv.csv": "fe4a7431ef68d5c74b2592e3d6d97692e4b5cc5719f3cd7601bbd78dd9153da6",
        "subject2/session1/data_2018-04-15-21.18.48.csv": "d6ce3bc0fe934e42913851df59657810c2a067f6da41340cc19f69f36a0f777c",
        "subject2/session1/data_2018-04-15-21.21.20.csv": "7d419879d62e0837682493507304125857be60c7fadd5ab3b33a1620ab642424",
        "subject3/session1/data_2018-05-14-19.14.37.csv": "7677338159abed08a6815875c817bc3004f434b61d802ec6791b7072d6953397",
        "subject3/session1/data_2018-05-14-19.38.10.csv": "4dfd0d660010f93908bf57a969dce8c01e87a15bcfdca5cdc94ad560f6e0274d",
        "subject3/session2/data_2018-05-14-19.35.55.csv": "dafdc33eed62c5a036ee38c2a96dd59e78ae891687992075c2d9dfc47e7f86e8",
        "subject3/session2/data_2018-05-14-19.38.10.csv": "4dfd0d660010f93908bf57a969dce8c01e87a15bcfdca5cdc94ad560f6e0274d",
        "subject3/session3/recording_2018-05-29-20.14.04.csv.csv": "3c9abd76d5ee6573e52315554e03ebf35245ab26bc4a96569f00761bec99c26e",
        "subject3/session3/recording_2018-05-31-16.03.39.csv.csv": "bc25047aa57a1e2114a27b78d7b425ca794a76db10e9d35c4346fa7418671dcf",
    }
)

#: local layout prefix -> path in the eeg-notebooks repository (first match wins)
_N170_REMOTE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("LICENSE-eeg-notebooks", "LICENSE"),
    ("stimuli/", "stimulus_presentation/stim/face_house/"),
    ("subject", "data/visual/N170/subject"),
)


def _n170_file(path: str, sha256: str) -> RemoteFile:
    """The eeg-notebooks file stored locally at ``path``, tagged with its subject."""
    remote = next(new + path[len(old) :] for old, new in _N170_REMOTE_PREFIXES if path.startswith(old))
    match = re.match(r"subject(\d+)/", path)
    return RemoteFile(path, remote=remote, sha256=sha256, subject=int(match[1]) if match else None)


DATASETS: dict[str, DatasetSpec] = {
    "eegmat": DatasetSpec(
        name="eegmat",
        folder="eegmat",
        base_url="https://physionet.org/files/eegmat/1.0.0/",
        description="EEG during mental arithmetic (PhysioNet eegmat 1.0.0): 36 subjects, "
        "rest (_1) and serial subtraction (_2), EDF, 19 EEG + ECG channels, 500 Hz",
        license="ODC Attribution 1.0 (Zyma et al. 2019, Data 4(1):14)",
        files=(
            # the shared copy of subject-info.csv lists only the subjects it holds,
            # so its digest is not the published one: the upstream manifest checks it
            RemoteFile("subject-info.csv"),
            *(
                RemoteFile(name, sha256=_EEGMAT_SHA256.get(name), subject=subject, run=run)
                for subject in range(36)
                for run in (1, 2)
                for name in [f"Subject{subject:02d}_{run}.edf"]
            ),
        ),
        manifest="SHA256SUMS.txt",
    ),
    "eegmmidb": DatasetSpec(
        name="eegmmidb",
        folder="eegmmidb",
        base_url="https://physionet.org/files/eegmmidb/1.0.0/",
        description="EEG motor movement/imagery (PhysioNet eegmmidb 1.0.0): 109 subjects x 14 runs, "
        "EDF + .edf.event annotations, 64 channels, 160 Hz (default: subject 1 only)",
        license="ODC Attribution 1.0 (Schalk et al. 2004)",
        files=tuple(
            RemoteFile(f"S{subject:03d}/S{subject:03d}R{run:02d}{ext}", subject=subject, run=run)
            for subject in range(1, 110)
            for run in range(1, 15)
            for ext in (".edf", ".edf.event")
        ),
        manifest="SHA256SUMS.txt",
        default_subjects=(1,),
    ),
    "n170": DatasetSpec(
        name="n170",
        folder="eegnb_n170",
        base_url="https://raw.githubusercontent.com/NeuroTechX/eeg-notebooks_v0.1/master/",
        description="NeuroTechX eeg-notebooks visual N170 (faces vs houses): Muse CSV of subjects "
        "1, 2, 3, 10, 11 and the 96 stimulus images",
        license="BSD-3-Clause (eeg-notebooks); stimuli CC BY-SA 3.0 (Haxby et al. 2001)",
        files=tuple(_n170_file(path, digest) for path, digest in _N170_SHA256.items()),
    ),
}


def list_datasets() -> dict[str, DatasetSpec]:
    """The datasets :func:`fetch` knows, by name (a copy; for ``brainalign fetch --list``)."""
    return dict(sorted(DATASETS.items()))


# --------------------------------------------------------------------------- fetch
def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
    force: bool = False,
    *,
    subjects: Iterable[int] | None = None,
    runs: Iterable[int] | None = None,
    verify: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download dataset ``name`` into ``data_dir() / <folder>`` and return that folder.

    ``base_url`` replaces the upstream address (a mirror, or a local test server);
    without it, ``$BRAINALIGN_FETCH_BASE_URL/<name>/`` does when that is set.
    ``subjects``/``runs`` limit the download to files tagged with those numbers
    (default: the dataset's ``default_subjects``, all runs). Files already in place
    and matching their checksum are kept; ``force`` downloads everything again.
    ``verify=False`` skips checksums entirely (and the manifest); otherwise a file
    without any known checksum is refused, and a missing upstream manifest is
    refused unless every requested file has an embedded checksum.
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise DataError(None, f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    root = resolve_data_dir(data_dir) / spec.folder
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    base = (base_url or (f"{mirror.rstrip('/')}/{spec.name}" if mirror else spec.base_url)).rstrip("/") + "/"
    subjects = None if subjects is None else tuple(subjects)  # read twice below
    runs = None if runs is None else tuple(runs)
    files = _select(spec, subjects, runs)
    if not any(f.subject is not None or f.run is not None for f in files) and any(
        f.subject is not None or f.run is not None for f in spec.files
    ):
        raise DataError(root, f"no recording of {name!r} matches subjects={subjects} runs={runs}")

    expected = _expected_digests(spec, files, root, base, timeout) if verify else {}
    root.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(files), unit="file", desc=name, disable=not progress) as overall:
        for item in files:
            dest = _destination(root, item.path)
            digests = expected.get(item.path, ())
            if force:
                for stale in (dest, _part(dest)):
                    stale.unlink(missing_ok=True)
            if not dest.exists() or _mismatch(dest, digests):
                _download(base + item.url_path, dest, digests, progress, timeout)
            overall.update(1)
    return root


def _select(spec: DatasetSpec, subjects: Iterable[int] | None, runs: Iterable[int] | None) -> list[RemoteFile]:
    """The files of ``spec`` that the subject/run filters keep (untagged files always)."""
    wanted_subjects = (
        set(subjects)
        if subjects is not None
        else (set(spec.default_subjects) if spec.default_subjects is not None else None)
    )
    wanted_runs = set(runs) if runs is not None else None
    return [
        f
        for f in spec.files
        if (f.subject is None or wanted_subjects is None or f.subject in wanted_subjects)
        and (f.run is None or wanted_runs is None or f.run in wanted_runs)
    ]


def _destination(root: Path, relative: str) -> Path:
    """``root / relative``, refusing absolute paths and ``..`` (a spec is data, not trusted code)."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise DataError(root, f"unsafe file path {relative!r} in the dataset registry")
    return root.joinpath(*parts)


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + _PART_SUFFIX)


def _expected_digests(
    spec: DatasetSpec, files: Sequence[RemoteFile], root: Path, base: str, timeout: float
) -> dict[str, tuple[str, ...]]:
    """Every known sha256 of each file (manifest and embedded), keyed by local path.

    Raises when a file would end up unverified: no manifest entry and no embedded
    digest, or a missing manifest that the embedded digests do not fully cover.
    """
    manifest: dict[str, str] = {}
    if spec.manifest is not None:
        url = base + spec.manifest
        try:
            text = _get_bytes(url, root / spec.manifest, timeout).decode("utf-8", "replace")
            manifest = _parse_manifest(text)
        except _MissingUpstream:
            uncovered = [f.path for f in files if f.sha256 is None]
            if uncovered:
                raise DataError(
                    root / spec.manifest,
                    f"checksum manifest missing upstream ({url}); {len(uncovered)} file(s) such as "
                    f"{uncovered[0]} could not be verified (pass verify=False to download unverified)",
                ) from None
    digests: dict[str, tuple[str, ...]] = {}
    for f in files:
        known = tuple(dict.fromkeys(d.lower() for d in (manifest.get(f.url_path), f.sha256) if d))
        if not known:
            where = f"not listed in {base}{spec.manifest}" if spec.manifest else "no checksum in the registry"
            raise DataError(root / f.path, f"{where}; cannot verify it (pass verify=False to download unverified)")
        digests[f.path] = known
    return digests


def _parse_manifest(text: str) -> dict[str, str]:
    """``{path: sha256}`` from ``sha256sum`` output (``<hex>  <path>``, ``*`` = binary mode)."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.strip().split(maxsplit=1)
        if len(fields) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
            entries[fields[1].lstrip("*").removeprefix("./")] = fields[0].lower()
    return entries


def _mismatch(path: Path, digests: Sequence[str]) -> str | None:
    """The sha256 of ``path`` when it differs from one of ``digests``, else ``None``
    (also ``None`` when no digest is known: nothing to check against)."""
    if not digests:
        return None
    actual = file_digest(path, "sha256")
    return actual if any(actual != d for d in digests) else None


# --------------------------------------------------------------------------- HTTP
class _MissingUpstream(Exception):
    """The server answered 404/410: the file does not exist there."""


class _BadRange(Exception):
    """A resumed request cannot continue the ``.part`` file (416, or a 206 from another offset)."""


def _open(url: str, dest: Path, timeout: float, start: int = 0) -> http.client.HTTPResponse:
    """Open ``url`` (from byte ``start`` with a Range request), mapping failures to errors.

    404/410 raise :class:`_MissingUpstream` and 416 :class:`_BadRange` so that
    callers can decide; every other failure is a :class:`DataError` on ``dest``.
    """
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code in (404, 410):
            raise _MissingUpstream(url) from None
        if err.code == 416:
            raise _BadRange(url) from None
        raise DataError(dest, f"cannot download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(dest, f"cannot download {url}: host unreachable ({reason})") from None
    except ValueError as err:  # not a URL urllib can open
        raise DataError(dest, f"cannot download {url}: {err}") from None


def _get_bytes(url: str, dest: Path, timeout: float) -> bytes:
    """A small file (a manifest) read whole into memory."""
    with _open(url, dest, timeout) as response:
        try:
            return response.read()
        except (http.client.HTTPException, OSError) as err:
            raise DataError(dest, f"cannot download {url}: connection lost ({err})") from None


def _download(url: str, dest: Path, digests: Sequence[str], progress: bool, timeout: float) -> None:
    """Fetch ``url`` to ``dest`` through ``dest.part``: resume, verify, then rename.

    A ``.part`` that the server cannot continue is discarded and the file fetched
    from its first byte; one that fails the checksum is removed.
    """
    part = _part(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    try:
        _transfer(url, dest, part, start, progress, timeout)
    except _BadRange:
        part.unlink()
        _transfer(url, dest, part, 0, progress, timeout)
    actual = _mismatch(part, digests)
    if actual is not None:
        part.unlink()
        raise DataError(
            dest,
            f"sha256 mismatch for {url}: got {actual}, expected {' and '.join(digests)}; "
            "the downloaded file was removed",
        )
    os.replace(part, dest)


def _transfer(url: str, dest: Path, part: Path, start: int, progress: bool, timeout: float) -> None:
    """One request for ``url`` written to ``part``, continuing at byte ``start`` if > 0."""
    try:
        response = _open(url, dest, timeout, start)
    except _MissingUpstream:
        raise DataError(dest, f"file missing upstream: {url} (HTTP 404)") from None
    with response:
        if start and response.status != 206:
            start = 0  # the server ignored Range and sends the whole file: restart cleanly
        elif start and not _range_starts_at(response.headers.get("Content-Range"), start):
            raise _BadRange(url)
        _stream(response, url, part, start, progress)


def _range_starts_at(content_range: str | None, start: int) -> bool:
    """True when a 206 ``Content-Range: bytes a-b/n`` header starts at byte ``start``."""
    match = re.match(r"bytes\s+(\d+)-", content_range or "")
    return bool(match) and int(match[1]) == start


def _stream(response: http.client.HTTPResponse, url: str, part: Path, start: int, progress: bool) -> None:
    """Append (``start`` > 0) or write the body to ``part``, with a bytes progress bar.

    A connection lost midway keeps what arrived in ``part`` for the next call.
    """
    length = response.headers.get("Content-Length")
    total = start + int(length) if length and length.isdigit() else None
    received = start
    name = PurePosixPath(url).name
    with (
        open(part, "ab" if start else "wb") as out,
        tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=name,
            leave=False,
            disable=not progress,
        ) as bar,
    ):
        try:
            while block := response.read(_CHUNK):
                out.write(block)
                received += len(block)
                bar.update(len(block))
        except (http.client.HTTPException, OSError) as err:
            raise DataError(
                part, f"connection lost after {received} bytes of {url} ({err!r}); run again to resume"
            ) from None
        finally:
            out.flush()
            with contextlib.suppress(OSError):
                os.fsync(out.fileno())
    if total is not None and received < total:
        raise DataError(part, f"connection lost after {received} of {total} bytes of {url}; run again to resume")
