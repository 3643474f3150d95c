"""Word lists the synthetic registries draw from: Thai names, titles, universities, TSIC codes.

Given names and surname parts are common Thai ones, romanised roughly after the Royal
Thai General System, as ID cards print them. Surnames are built from two parts
(ศรี + สุข → ศรีสุข / Sisuk), the way many Thai surnames are. TSIC codes are classes
of the Thailand Standard Industrial Classification 2009 (which follows ISIC Rev. 4);
the Thai descriptions are short forms written here, not the official titles.
"""

from __future__ import annotations

__all__ = [
    "BRAND_WORDS",
    "DEGREES",
    "FOREIGN",
    "GIVEN_FEMALE",
    "GIVEN_MALE",
    "MASTERS",
    "SURNAME_HEADS",
    "SURNAME_TAILS",
    "TSIC",
    "UNIVERSITIES",
]

Pair = tuple[str, str]  # (Thai, English)

GIVEN_MALE: tuple[Pair, ...] = (
    ("สมชาย", "Somchai"), ("สมศักดิ์", "Somsak"), ("ประเสริฐ", "Prasoet"), ("วิชัย", "Wichai"),
    ("สุรชัย", "Surachai"), ("ธนากร", "Thanakon"), ("ณัฐพล", "Natthaphon"), ("กิตติพงษ์", "Kittiphong"),
    ("อนุชา", "Anucha"), ("ชัยวัฒน์", "Chaiwat"), ("ปิยะ", "Piya"), ("วีระ", "Wira"),
    ("สุทธิพงษ์", "Sutthiphong"), ("ธีรวัฒน์", "Thirawat"), ("พงศกร", "Phongsakon"), ("ภานุวัฒน์", "Phanuwat"),
    ("ศุภชัย", "Supphachai"), ("อภิชาติ", "Aphichat"), ("นพดล", "Noppadon"), ("บุญมี", "Bunmi"),
    ("สมบัติ", "Sombat"), ("ทองดี", "Thongdi"), ("มานพ", "Manop"), ("สุริยา", "Suriya"),
    ("เอกชัย", "Ekkachai"), ("จักรพันธ์", "Chakkraphan"), ("ธนวัฒน์", "Thanawat"), ("ปกรณ์", "Pakon"),
    ("วรวุฒิ", "Worawut"), ("ณัฐวุฒิ", "Natthawut"), ("ธนพล", "Thanaphon"), ("กฤษดา", "Kritsada"),
    ("อิทธิพล", "Itthiphon"), ("ศักดิ์ชัย", "Sakchai"), ("สุเมธ", "Sumet"), ("อำนาจ", "Amnat"),
    ("บุญเลิศ", "Bunloet"), ("ชาญวิทย์", "Chanwit"), ("พีรพงษ์", "Phiraphong"), ("ภูมิ", "Phum"),
    ("ธาม", "Tham"), ("ปัณณวัฒน์", "Pannawat"), ("กันต์", "Kan"), ("ภูริ", "Phuri"),
    ("ก้องภพ", "Kongphop"), ("รัฐพล", "Ratthaphon"), ("เกียรติศักดิ์", "Kiattisak"), ("วิทยา", "Witthaya"),
    ("สมพงษ์", "Somphong"), ("ประยูร", "Prayun"), ("สุวิทย์", "Suwit"), ("ไพโรจน์", "Phairot"),
)

GIVEN_FEMALE: tuple[Pair, ...] = (
    ("สมศรี", "Somsi"), ("สุภาพร", "Suphaphon"), ("วรรณา", "Wanna"), ("มาลี", "Mali"),
    ("กาญจนา", "Kanchana"), ("นงลักษณ์", "Nongluk"), ("สุนิสา", "Sunisa"), ("ปราณี", "Prani"),
    ("รัตนา", "Rattana"), ("อรุณี", "Aruni"), ("พรทิพย์", "Phonthip"), ("ศิริพร", "Siriphon"),
    ("จันทร์เพ็ญ", "Chanphen"), ("บุญเรือน", "Bunruean"), ("ทองใบ", "Thongbai"), ("ณัฐธิดา", "Natthida"),
    ("ชนิดา", "Chanida"), ("กมลชนก", "Kamonchanok"), ("ปิยะนุช", "Piyanut"), ("สุดารัตน์", "Sudarat"),
    ("อัญชลี", "Anchali"), ("วิไลวรรณ", "Wilaiwan"), ("นภา", "Napha"), ("พิมพ์ชนก", "Phimchanok"),
    ("ธิดารัตน์", "Thidarat"), ("เบญจวรรณ", "Benchawan"), ("ปวีณา", "Pawina"), ("ศศิธร", "Sasithon"),
    ("อารีรัตน์", "Arirat"), ("จิราพร", "Chiraphon"), ("ณัฐชา", "Natcha"), ("ภัทรา", "Phattra"),
    ("ธนพร", "Thanaphon"), ("กัญญาณัฐ", "Kanyanat"), ("พรรณี", "Phanni"), ("ลำดวน", "Lamduan"),
    ("สายสุนีย์", "Saisuni"), ("ดวงใจ", "Duangchai"), ("มณีรัตน์", "Manirat"), ("อรอุมา", "On-uma"),
    ("ชุติมา", "Chutima"), ("ปภาวรินทร์", "Paphawarin"), ("ณิชา", "Nicha"), ("พิชญา", "Phitchaya"),
    ("ขวัญใจ", "Khwanchai"), ("รุ่งนภา", "Rungnapha"), ("เยาวลักษณ์", "Yaowalak"), ("สมหญิง", "Somying"),
    ("อำไพ", "Amphai"), ("บุษบา", "Butsaba"), ("จันทร์แรม", "Chanraem"), ("แสงเดือน", "Saengduean"),
)

SURNAME_HEADS: tuple[Pair, ...] = (
    ("ศรี", "Si"), ("แก้ว", "Kaeo"), ("ทอง", "Thong"), ("สุข", "Suk"), ("บุญ", "Bun"), ("วงศ์", "Wong"),
    ("ใจ", "Chai"), ("จันทร์", "Chan"), ("เพชร", "Phet"), ("มณี", "Mani"), ("รัตน", "Rattana"), ("ศักดิ์", "Sak"),
    ("สม", "Som"), ("ชัย", "Chai"), ("พงษ์", "Phong"), ("เจริญ", "Charoen"), ("กิตติ", "Kitti"), ("ธนา", "Thana"),
    ("อินทร", "Intha"), ("คำ", "Kham"), ("เรือง", "Rueang"), ("ปัญญา", "Panya"), ("สาย", "Sai"), ("นาค", "Nak"),
)

SURNAME_TAILS: tuple[Pair, ...] = (
    ("สุข", "suk"), ("วงศ์", "wong"), ("มณี", "mani"), ("ดี", "di"), ("คำ", "kham"), ("เจริญ", "charoen"),
    ("ศรี", "si"), ("พันธ์", "phan"), ("ทอง", "thong"), ("ประเสริฐ", "prasoet"), ("สวัสดิ์", "sawat"),
    ("รุ่งเรือง", "rungrueang"), ("ไพศาล", "phaisan"), ("กุล", "kun"), ("ชัย", "chai"), ("แสง", "saeng"),
    ("วิไล", "wilai"), ("สมบูรณ์", "sombun"), ("บุญ", "bun"), ("นิยม", "niyom"), ("ภักดี", "phakdi"),
    ("อ่อน", "on"), ("ใส", "sai"), ("ยืน", "yuen"),
)

# Nationality (Thai, English, ISO 3166 alpha-3), weight, male given, female given, family names.
FOREIGN: tuple[tuple[str, str, str, int, tuple[Pair, ...], tuple[Pair, ...], tuple[Pair, ...]], ...] = (
    ("เมียนมา", "Myanmar", "MMR", 45,
     (("อ่อง", "Aung"), ("จ่อ", "Kyaw"), ("ซอ", "Zaw"), ("หม่อง", "Maung")),
     (("ซู", "Su"), ("เอ", "Aye"), ("ขิ่น", "Khin"), ("นันดา", "Nanda")),
     (("ทูน", "Tun"), ("วิน", "Win"), ("โซ", "Soe"), ("ลวิน", "Lwin"), ("อู", "Oo"))),
    ("ลาว", "Lao", "LAO", 15,
     (("สุลิยะ", "Souliya"), ("คำพอน", "Khamphone"), ("บุนมี", "Bounmy")),
     (("คำแพง", "Khampheng"), ("นาลี", "Naly"), ("พอนสะหวัน", "Phonsavanh")),
     (("พมมะจัน", "Phommachanh"), ("สีสะหวาด", "Sisavath"), ("แก้วมะนี", "Keomany"))),
    ("กัมพูชา", "Cambodian", "KHM", 15,
     (("โสภณ", "Sophon"), ("ดารา", "Dara"), ("วิเชต", "Vichet")),
     (("โสภา", "Sophea"), ("ศรีมม", "Sreymom"), ("จันธี", "Chanthy")),
     (("ซก", "Sok"), ("เจีย", "Chea"), ("ฮุน", "Hun"), ("เลียง", "Leang"))),
    ("จีน", "Chinese", "CHN", 10,
     (("เหว่ย", "Wei"), ("เฉียง", "Qiang"), ("หมิง", "Ming")),
     (("ลี่", "Li"), ("ฟาง", "Fang"), ("จิง", "Jing")),
     (("หวัง", "Wang"), ("จาง", "Zhang"), ("หลิว", "Liu"), ("เฉิน", "Chen"))),
    ("ญี่ปุ่น", "Japanese", "JPN", 5,
     (("ฮิโรชิ", "Hiroshi"), ("ทาเคชิ", "Takeshi"), ("เคนจิ", "Kenji")),
     (("ยูกิ", "Yuki"), ("ฮานาโกะ", "Hanako"), ("เอมิ", "Emi")),
     (("ซาโต", "Sato"), ("ซูซูกิ", "Suzuki"), ("ทานากะ", "Tanaka"), ("ยามาโมโตะ", "Yamamoto"))),
    ("อังกฤษ", "British", "GBR", 5,
     (("จอห์น", "John"), ("เดวิด", "David"), ("เจมส์", "James")),
     (("แมรี", "Mary"), ("ซาราห์", "Sarah"), ("เอมมา", "Emma")),
     (("สมิท", "Smith"), ("บราวน์", "Brown"), ("วิลสัน", "Wilson"), ("เทย์เลอร์", "Taylor"))),
    ("อเมริกัน", "American", "USA", 5,
     (("ไมเคิล", "Michael"), ("โรเบิร์ต", "Robert"), ("แดเนียล", "Daniel")),
     (("เจนนิเฟอร์", "Jennifer"), ("ลินดา", "Linda"), ("เอมิลี", "Emily")),
     (("จอห์นสัน", "Johnson"), ("มิลเลอร์", "Miller"), ("เดวิส", "Davis"))),
)

UNIVERSITIES: tuple[Pair, ...] = (
    ("จุฬาลงกรณ์มหาวิทยาลัย", "Chulalongkorn University"),
    ("มหาวิทยาลัยธรรมศาสตร์", "Thammasat University"),
    ("มหาวิทยาลัยมหิดล", "Mahidol University"),
    ("มหาวิทยาลัยเกษตรศาสตร์", "Kasetsart University"),
    ("มหาวิทยาลัยเชียงใหม่", "Chiang Mai University"),
    ("มหาวิทยาลัยขอนแก่น", "Khon Kaen University"),
    ("มหาวิทยาลัยสงขลานครินทร์", "Prince of Songkla University"),
    ("มหาวิทยาลัยศิลปากร", "Silpakorn University"),
    ("มหาวิทยาลัยศรีนครินทรวิโรฒ", "Srinakharinwirot University"),
    ("มหาวิทยาลัยนเรศวร", "Naresuan University"),
    ("มหาวิทยาลัยแม่ฟ้าหลวง", "Mae Fah Luang University"),
    ("มหาวิทยาลัยรามคำแหง", "Ramkhamhaeng University"),
    ("มหาวิทยาลัยสุโขทัยธรรมาธิราช", "Sukhothai Thammathirat Open University"),
    ("มหาวิทยาลัยราชภัฏอุตรดิตถ์", "Uttaradit Rajabhat University"),
    ("มหาวิทยาลัยพะเยา", "University of Phayao"),
    ("มหาวิทยาลัยเทคโนโลยีพระจอมเกล้าธนบุรี", "King Mongkut's University of Technology Thonburi"),
)

# (degree Thai, degree English, majors as (Thai, English)).
DEGREES: tuple[tuple[str, str, tuple[Pair, ...]], ...] = (
    ("วิทยาศาสตรบัณฑิต", "Bachelor of Science",
     (("วิทยาการคอมพิวเตอร์", "Computer Science"), ("เคมี", "Chemistry"), ("คณิตศาสตร์", "Mathematics"),
      ("เทคโนโลยีการอาหาร", "Food Technology"))),
    ("ศิลปศาสตรบัณฑิต", "Bachelor of Arts",
     (("ภาษาอังกฤษ", "English"), ("ประวัติศาสตร์", "History"), ("ภาษาไทย", "Thai"))),
    ("บริหารธุรกิจบัณฑิต", "Bachelor of Business Administration",
     (("การตลาด", "Marketing"), ("การเงิน", "Finance"), ("การจัดการ", "Management"))),
    ("วิศวกรรมศาสตรบัณฑิต", "Bachelor of Engineering",
     (("วิศวกรรมโยธา", "Civil Engineering"), ("วิศวกรรมไฟฟ้า", "Electrical Engineering"),
      ("วิศวกรรมคอมพิวเตอร์", "Computer Engineering"))),
    ("นิติศาสตรบัณฑิต", "Bachelor of Laws", (("นิติศาสตร์", "Law"),)),
    ("ครุศาสตรบัณฑิต", "Bachelor of Education",
     (("การประถมศึกษา", "Elementary Education"), ("คณิตศาสตร์", "Mathematics"))),
    ("บัญชีบัณฑิต", "Bachelor of Accountancy", (("การบัญชี", "Accounting"),)),
    ("พยาบาลศาสตรบัณฑิต", "Bachelor of Nursing Science", (("พยาบาลศาสตร์", "Nursing Science"),)),
    ("รัฐศาสตรบัณฑิต", "Bachelor of Political Science", (("การปกครอง", "Government"),)),
)

MASTERS: tuple[tuple[str, str, tuple[Pair, ...]], ...] = (
    ("วิทยาศาสตรมหาบัณฑิต", "Master of Science",
     (("วิทยาการข้อมูล", "Data Science"), ("เทคโนโลยีสารสนเทศ", "Information Technology"))),
    ("บริหารธุรกิจมหาบัณฑิต", "Master of Business Administration", (("บริหารธุรกิจ", "Business Administration"),)),
    ("รัฐประศาสนศาสตรมหาบัณฑิต", "Master of Public Administration",
     (("รัฐประศาสนศาสตร์", "Public Administration"),)),
)

# (TSIC 2009 code, what the business does in Thai, name word Thai, name word English).
TSIC: tuple[tuple[str, str, str, str], ...] = (
    ("01111", "การปลูกข้าวเจ้า", "เกษตร", "Agro"),
    ("01500", "การทำฟาร์มผสม (ปลูกพืชและเลี้ยงสัตว์)", "ฟาร์ม", "Farm"),
    ("10712", "การผลิตขนมอบ", "เบเกอรี่", "Bakery"),
    ("10792", "การผลิตกาแฟ ชา และสมุนไพร", "คอฟฟี่", "Coffee"),
    ("14111", "การผลิตเสื้อผ้าสำเร็จรูป", "การ์เมนท์", "Garment"),
    ("16101", "การเลื่อยไม้และไสไม้", "ค้าไม้", "Timber"),
    ("25110", "การผลิตผลิตภัณฑ์โลหะสำหรับโครงสร้าง", "เมทัล", "Metal Works"),
    ("41001", "การก่อสร้างอาคารที่อยู่อาศัย", "ก่อสร้าง", "Construction"),
    ("41002", "การก่อสร้างอาคารที่ไม่ใช่ที่อยู่อาศัย", "คอนสตรัคชั่น", "Builders"),
    ("43210", "การติดตั้งระบบไฟฟ้า", "การไฟฟ้า", "Electric"),
    ("45201", "การบำรุงรักษาและซ่อมแซมยานยนต์", "ยานยนต์", "Auto Service"),
    ("46900", "การขายส่งสินค้าทั่วไป", "เทรดดิ้ง", "Trading"),
    ("47111", "การขายปลีกในร้านค้าทั่วไปที่มีอาหารเป็นหลัก", "มินิมาร์ท", "Minimart"),
    ("47300", "การขายปลีกน้ำมันเชื้อเพลิงสำหรับยานยนต์", "ปิโตรเลียม", "Petroleum"),
    ("47521", "การขายปลีกวัสดุก่อสร้าง", "วัสดุภัณฑ์", "Building Supplies"),
    ("47711", "การขายปลีกเสื้อผ้า", "แฟชั่น", "Fashion"),
    ("47721", "การขายปลีกยาและเวชภัณฑ์ (ร้านขายยา)", "เภสัช", "Pharmacy"),
    ("49231", "การขนส่งสินค้าทางถนน", "ขนส่ง", "Transport"),
    ("52101", "การให้บริการคลังสินค้า", "โลจิสติกส์", "Logistics"),
    ("55101", "โรงแรมและรีสอร์ท", "โฮเทล", "Hotel"),
    ("56101", "ภัตตาคารและร้านอาหาร", "ฟู้ด", "Food"),
    ("56302", "ร้านกาแฟและเครื่องดื่ม", "คาเฟ่", "Cafe"),
    ("62010", "การเขียนโปรแกรมคอมพิวเตอร์", "ซอฟต์แวร์", "Software"),
    ("62020", "การให้คำปรึกษาด้านคอมพิวเตอร์", "ไอที โซลูชั่น", "IT Solutions"),
    ("68101", "การซื้อขายอสังหาริมทรัพย์", "พร็อพเพอร์ตี้", "Property"),
    ("69200", "การทำบัญชีและการสอบบัญชี", "การบัญชี", "Accounting"),
    ("70200", "การให้คำปรึกษาด้านการจัดการ", "คอนซัลแตนท์", "Consulting"),
    ("73100", "การโฆษณา", "มีเดีย", "Media"),
    ("79110", "ตัวแทนธุรกิจการท่องเที่ยว", "ทัวร์", "Travel"),
    ("85499", "การสอนพิเศษและกวดวิชา", "เอ็ดดูเคชั่น", "Education"),
    ("86201", "คลินิกเวชกรรม", "เมดิคอล", "Medical"),
    ("96021", "ร้านเสริมสวยและตัดผม", "บิวตี้", "Beauty"),
)

# Words companies and shops are named with (Thai, English).
BRAND_WORDS: tuple[Pair, ...] = (
    ("สยาม", "Siam"), ("ไทย", "Thai"), ("รุ่งเรือง", "Rungrueang"), ("เจริญ", "Charoen"), ("ทรัพย์", "Sap"),
    ("มั่นคง", "Mankhong"), ("พัฒนา", "Phatthana"), ("โกลเด้น", "Golden"), ("เอเชีย", "Asia"),
    ("ล้านนา", "Lanna"), ("อุดม", "Udom"), ("ศรี", "Si"), ("ทองคำ", "Thongkham"), ("รวมใจ", "Ruamchai"),
    ("สหกิจ", "Sahakit"), ("ยูไนเต็ด", "United"), ("นครา", "Nakhara"), ("เพชรรัตน์", "Phetcharat"),
    ("ภูเขา", "Phukhao"), ("ธารา", "Thara"), ("อินเตอร์", "Inter"), ("โกลบอล", "Global"), ("ซิตี้", "City"),
    ("ดาวทอง", "Daothong"), ("แพร่", "Phrae"), ("สุวรรณ", "Suwan"),
)
