"""Word lists the generator draws from, loaded once.

Surnames (with their frequencies), given-name characters, districts, street words, company words and mobile
prefixes come from `wordlists/zh_CN-v1.json`, a data file of our own: copied once from the Faker release that
spec citizens-v1 was published with (the file names it) and never read from a third-party package at run time,
so no upstream release can change a dataset. Drawing from plain lists rather than calling a faker per record
is also what makes a million persons take seconds rather than minutes. The rest is hand-written: region codes,
rare characters outside GB 2312, minority names, industries.

Changing any list here changes the bytes of every dataset: published specs record the lists' hash
(`wordlists_sha256`) and refuse to generate from other lists, so add a new word-list file for a new spec
rather than editing one in place.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from itertools import accumulate

WORDLISTS_FILE = "zh_CN-v1.json"


def _load_wordlists(name: str) -> dict:
    return json.loads(resources.files("mockdata").joinpath("wordlists", name).read_text(encoding="utf-8"))


_LISTS = _load_wordlists(WORDLISTS_FILE)
_SURNAME_WEIGHTS: dict[str, float] = dict(_LISTS["surnames"])

SURNAMES: tuple[str, ...] = tuple(_SURNAME_WEIGHTS)
SURNAME_CUM_WEIGHTS: tuple[float, ...] = tuple(accumulate(_SURNAME_WEIGHTS.values()))
GIVEN_MALE: tuple[str, ...] = tuple(_LISTS["given_male"])
GIVEN_FEMALE: tuple[str, ...] = tuple(_LISTS["given_female"])
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐")

# Characters used in given names that GB 2312 cannot encode (tests assert it); 䶮 and 㛃 are in
# CJK Extension A, 𠇔 in Extension B (outside the Basic Multilingual Plane).
RARE_CHARACTERS = ("堃", "喆", "玥", "珺", "昇", "彧", "䶮", "㛃", "镕", "赟", "甦", "𠇔", "龑", "旻", "昉", "祎",
                   "玙", "琤", "璟", "燊", "晞", "翀", "琇", "韡", "垚", "曌", "嫚", "媖", "偲")

# Minority names written with the middle dot U+00B7 between given name and father's name.
UYGHUR_GIVEN_MALE = ("买买提", "艾力", "阿不都", "吐尔逊", "艾合买提", "依明", "热合曼", "努尔买买提", "阿里木", "库尔班")
UYGHUR_GIVEN_FEMALE = ("阿依古丽", "热依拉", "古丽娜尔", "帕提古丽", "迪丽娜尔", "祖丽菲亚", "阿依努尔", "米热古丽")
KAZAKH_GIVEN_MALE = ("努尔兰", "阿斯哈尔", "叶尔兰", "别克", "达吾列提", "哈力木")
KAZAKH_GIVEN_FEMALE = ("古丽巴哈尔", "阿依江", "沙吾列", "加娜尔")
FATHER_NAMES = ("买买提", "艾力", "吐尔逊", "阿不都热合曼", "托合提", "玉素甫", "斯拉木", "努尔兰", "别克", "卡德尔")
OTHER_ETHNICITIES = ("回族", "壮族", "满族", "苗族", "土家族", "蒙古族", "藏族", "彝族", "朝鲜族", "侗族")

# (province code, province name, capital city, plate abbreviation)
PROVINCES = (
    ("11", "北京市", "", "京"), ("12", "天津市", "", "津"), ("13", "河北省", "石家庄市", "冀"),
    ("14", "山西省", "太原市", "晋"), ("15", "内蒙古自治区", "呼和浩特市", "蒙"), ("21", "辽宁省", "沈阳市", "辽"),
    ("22", "吉林省", "长春市", "吉"), ("23", "黑龙江省", "哈尔滨市", "黑"), ("31", "上海市", "", "沪"),
    ("32", "江苏省", "南京市", "苏"), ("33", "浙江省", "杭州市", "浙"), ("34", "安徽省", "合肥市", "皖"),
    ("35", "福建省", "福州市", "闽"), ("36", "江西省", "南昌市", "赣"), ("37", "山东省", "济南市", "鲁"),
    ("41", "河南省", "郑州市", "豫"), ("42", "湖北省", "武汉市", "鄂"), ("43", "湖南省", "长沙市", "湘"),
    ("44", "广东省", "广州市", "粤"), ("45", "广西壮族自治区", "南宁市", "桂"), ("46", "海南省", "海口市", "琼"),
    ("50", "重庆市", "", "渝"), ("51", "四川省", "成都市", "川"), ("52", "贵州省", "贵阳市", "贵"),
    ("53", "云南省", "昆明市", "云"), ("54", "西藏自治区", "拉萨市", "藏"), ("61", "陕西省", "西安市", "陕"),
    ("62", "甘肃省", "兰州市", "甘"), ("63", "青海省", "西宁市", "青"), ("64", "宁夏回族自治区", "银川市", "宁"),
    ("65", "新疆维吾尔自治区", "乌鲁木齐市", "新"),
)
PROVINCE_BY_CODE = {p[0]: p for p in PROVINCES}

DISTRICTS: tuple[str, ...] = tuple(_LISTS["districts"])
STREET_WORDS: tuple[str, ...] = tuple(_LISTS["cities"]) + SURNAMES[:60]
STREET_SUFFIXES = ("路", "街", "大道", "巷")
PHONE_PREFIXES: tuple[str, ...] = (*_LISTS["phone_prefixes"], "166", "173", "177", "191", "199")
COMPANY_WORDS: tuple[str, ...] = tuple(w for w in _LISTS["company_prefixes"] if 2 <= len(w) <= 4 and "公司" not in w)

# industry → (share of businesses, trade word in the name, business scope, food licence share)
INDUSTRIES = (
    ("catering", 35, ("餐饮", "餐饮管理", "食品"), "餐饮服务；食品销售；外卖递送服务", 0.7),
    ("retail", 25, ("商贸", "百货", "超市"), "食品销售（仅销售预包装食品）；日用百货销售；互联网销售", 0.5),
    ("technology", 15, ("科技", "信息技术", "网络科技"), "技术服务、技术开发、技术咨询；软件开发；信息系统集成服务", 0.0),
    ("services", 15, ("家政服务", "文化传媒", "物业管理"), "家政服务；物业管理；会议及展览服务", 0.0),
    ("manufacturing", 10, ("机械", "服装", "塑料制品"), "通用设备制造；服装制造；塑料制品销售", 0.0),
)
INDIVIDUAL_SHOP_WORDS = {"catering": ("面馆", "小吃店", "饺子馆", "烧烤店", "快餐店"),
                         "retail": ("便利店", "副食店", "水果店"), "technology": ("电脑维修部",),
                         "services": ("家政服务部", "理发店"), "manufacturing": ("加工坊",)}

FOOD_CATEGORIES = ("热食类食品制售", "冷食类食品制售", "生食类食品制售", "饮品店", "预包装食品销售", "散装食品销售")
HOT_FOOD = "热食类食品制售"

BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "中国邮政储蓄银行")
VEHICLE_MAKES = (("LSV", "上汽大众"), ("LFV", "一汽-大众"), ("LGB", "东风日产"), ("LBV", "华晨宝马"),
                 ("LGX", "比亚迪"), ("LVG", "广汽丰田"), ("LHG", "广汽本田"), ("LRW", "特斯拉"))
VEHICLE_TYPES = ("小型轿车", "小型普通客车", "小型越野客车", "轻型厢式货车")
REVOCATION_REASONS_BUSINESS = ("未依法报送年度报告，被吊销营业执照", "以欺骗手段取得登记，被撤销登记", "企业申请注销")
REVOCATION_REASONS_DRIVING = ("饮酒后驾驶营运机动车，吊销机动车驾驶证", "醉酒驾驶机动车，吊销机动车驾驶证")


def wordlists_sha256() -> str:
    """Fingerprint of the word lists as the generator uses them; a spec records it and refuses any other."""
    lists = [SURNAMES, SURNAME_CUM_WEIGHTS, GIVEN_MALE, GIVEN_FEMALE, DISTRICTS, STREET_WORDS, PHONE_PREFIXES, COMPANY_WORDS]
    return hashlib.sha256(json.dumps(lists, ensure_ascii=False).encode()).hexdigest()
