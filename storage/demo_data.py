"""Names and texts for the demo clinic (storage.demo): plain data, no logic.

Russian names are written surname, first name, patronymic, as clinic systems
list them; :func:`feminine` gives a surname's female form. Texts that
operators read come in English and Russian (the policy's language picks one).
"""

from __future__ import annotations

# Male surnames; the female form follows from the ending (see feminine).
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв",
    "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
    "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев",
    "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев",
    "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов", "Марков", "Миронов",
    "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов",
    "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
    "Успенский", "Вишневский", "Покровский", "Островский", "Трубецкой", "Шевченко",
    "Бондаренко", "Коваленко", "Ким", "Цой", "Черных", "Седых", "Гурьев", "Щербаков",
)
_INVARIANT_ENDINGS = ("ко", "их", "ых")
_INVARIANT = frozenset({"Ким", "Цой"})


def feminine(surname: str) -> str:
    """The female form of a male surname: Иванов → Иванова, Успенский → Успенская."""
    if surname in _INVARIANT or surname.endswith(_INVARIANT_ENDINGS):
        return surname
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith("ой"):
        return surname[:-2] + "ая"
    return surname + "а"


MALE_NAMES = (
    "Александр", "Алексей", "Андрей", "Артём", "Борис", "Вадим", "Василий", "Виктор",
    "Владимир", "Григорий", "Даниил", "Денис", "Дмитрий", "Евгений", "Егор", "Иван", "Игорь",
    "Илья", "Кирилл", "Константин", "Лев", "Максим", "Матвей", "Михаил", "Никита", "Николай",
    "Олег", "Павел", "Пётр", "Роман", "Сергей", "Станислав", "Тимофей", "Фёдор", "Юрий",
    "Ярослав",
)
FEMALE_NAMES = (
    "Александра", "Алёна", "Алиса", "Анастасия", "Анна", "Валентина", "Варвара", "Вера",
    "Виктория", "Галина", "Дарья", "Евгения", "Екатерина", "Елена", "Елизавета", "Зоя",
    "Ирина", "Кира", "Ксения", "Лидия", "Любовь", "Людмила", "Марина", "Мария", "Надежда",
    "Наталья", "Нина", "Оксана", "Ольга", "Полина", "Светлана", "Софья", "Тамара",
    "Татьяна", "Ульяна", "Юлия",
)
# Patronymics (male, female) from the father's name.
PATRONYMICS = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"),
    ("Анатольевич", "Анатольевна"), ("Андреевич", "Андреевна"), ("Борисович", "Борисовна"),
    ("Вадимович", "Вадимовна"), ("Васильевич", "Васильевна"), ("Викторович", "Викторовна"),
    ("Владимирович", "Владимировна"), ("Геннадьевич", "Геннадьевна"),
    ("Григорьевич", "Григорьевна"), ("Дмитриевич", "Дмитриевна"),
    ("Евгеньевич", "Евгеньевна"), ("Иванович", "Ивановна"), ("Игоревич", "Игоревна"),
    ("Ильич", "Ильинична"), ("Константинович", "Константиновна"), ("Львович", "Львовна"),
    ("Максимович", "Максимовна"), ("Михайлович", "Михайловна"), ("Никитич", "Никитична"),
    ("Николаевич", "Николаевна"), ("Олегович", "Олеговна"), ("Павлович", "Павловна"),
    ("Петрович", "Петровна"), ("Романович", "Романовна"), ("Сергеевич", "Сергеевна"),
    ("Фёдорович", "Фёдоровна"), ("Юрьевич", "Юрьевна"), ("Ярославович", "Ярославовна"),
)
# Clients written in Latin letters: (first name, is female), surnames.
LATIN_FIRST = (
    ("James", False), ("Emily", True), ("Michael", False), ("Sarah", True), ("Lukas", False),
    ("Anna", True), ("Pierre", False), ("Sophie", True), ("Marco", False), ("Giulia", True),
    ("Carlos", False), ("Lucía", True), ("Ahmed", False), ("Aisha", True), ("Mehmet", False),
    ("Elif", True), ("Jan", False), ("Katarzyna", True), ("Wei", False), ("Mei", True),
)
LATIN_SURNAMES = (
    "Smith", "Johnson", "Brown", "Wilson", "Müller", "Schmidt", "Weber", "Martin", "Dubois",
    "Rossi", "Bianchi", "García", "Fernández", "Hassan", "Khan", "Yılmaz", "Demir", "Novák",
    "Nowak", "Chen", "Wang",
)

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}
_LATIN_FOLD = str.maketrans("üéáíóúıčšžłń", "ueaiouicszln")


def latin(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: Фёдоров → fedorov, Müller → muller."""
    lowered = text.lower()
    return "".join(_TRANSLIT.get(ch, ch) for ch in lowered).translate(_LATIN_FOLD)


MAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru", "inbox.ru",
                "rambler.ru", "ya.ru")
MOBILE_CODES = (
    "900", "901", "903", "905", "906", "909", "910", "911", "912", "915", "916", "917", "919",
    "920", "921", "925", "926", "929", "937", "950", "951", "952", "953", "960", "961", "962",
    "963", "964", "965", "967", "968", "977", "978", "980", "981", "985", "987", "988", "989",
    "991", "993", "995", "996", "999",
)
LANDLINE_CODES = ("495", "499", "812")

# Specialities: what each kind of doctor does (service keys below).
SPECIALITY_SERVICES = {
    "therapist": ("checkup", "caries", "canal"),
    "hygienist": ("hygiene",),
    "surgeon": ("extraction", "implant"),
    "orthodontist": ("braces", "ortho"),
    "family": ("gp", "annual", "flu"),
    "paediatrician": ("child", "child-vaccine"),
}
CHILD_SERVICES = frozenset({"hygiene", "braces", "ortho", "child", "child-vaccine", "checkup"})
DOCTORS = (
    ("Петрова А. В.", "therapist"), ("Смирнов И. Г.", "therapist"),
    ("Ковалёва Е. С.", "hygienist"), ("Орлова Н. П.", "hygienist"),
    ("Гусейнов Р. А.", "surgeon"), ("Белова М. Д.", "orthodontist"),
    ("Зайцев К. О.", "family"), ("Никитина Л. Ю.", "family"),
    ("Фролова Т. И.", "paediatrician"),
)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "checkup": "Dental check-up", "caries": "Caries treatment",
        "canal": "Root canal treatment", "hygiene": "Professional teeth cleaning",
        "extraction": "Tooth extraction", "implant": "Implant consultation",
        "braces": "Braces adjustment", "ortho": "Orthodontic consultation",
        "gp": "GP appointment", "annual": "Annual check-up", "flu": "Flu vaccination",
        "child": "Child check-up", "child-vaccine": "Child vaccination",
        "hygiene-list": "Hygiene recall, 6 months",
        "flu-list": "Flu vaccination reminder",
        "last-cleaning": "Last cleaning {date} ({doctor})",
        "dnc-note": "Asked not to be called (since {date}).",
        "task": "Call the client",
    },
    "ru": {
        "checkup": "Осмотр стоматолога", "caries": "Лечение кариеса",
        "canal": "Лечение каналов", "hygiene": "Профессиональная гигиена",
        "extraction": "Удаление зуба", "implant": "Консультация по имплантации",
        "braces": "Коррекция брекет-системы", "ortho": "Консультация ортодонта",
        "gp": "Приём терапевта", "annual": "Ежегодный профосмотр",
        "flu": "Вакцинация от гриппа", "child": "Осмотр педиатра",
        "child-vaccine": "Вакцинация ребёнка",
        "hygiene-list": "Профгигиена: прошло 6 месяцев",
        "flu-list": "Напоминание о прививке от гриппа",
        "last-cleaning": "Последняя чистка {date} ({doctor})",
        "dnc-note": "Просил(а) не звонить (с {date}).",
        "task": "Позвонить клиенту",
    },
}

NOTES = {
    "en": (
        "Prefers calls after 18:00.", "Hard of hearing: speak slowly and clearly.",
        "Allergic to lidocaine.", "Call the daughter first if there is no answer.",
        "Works night shifts; do not call before noon.", "Anxious about treatment; be gentle.",
        "Prefers text messages to calls.", "Pays by insurance (policy on file).",
        "Speaks English better than Russian.", "Usually comes with a grandchild.",
    ),
    "ru": (
        "Удобно звонить после 18:00.", "Плохо слышит: говорить медленно и чётко.",
        "Аллергия на лидокаин.", "Если не отвечает, звонить дочери.",
        "Работает в ночную смену, не звонить до полудня.", "Боится лечения, говорить мягко.",
        "Предпочитает сообщения звонкам.", "Оплата по полису ДМС.",
        "Лучше говорит по-английски.", "Обычно приходит с внуком.",
    ),
}
FLU_NOTES = {
    "en": ("Vaccinated last autumn.", "Age 65+: free vaccine under the city programme.",
           "Asked to be reminded in autumn.", "Missed last year's vaccination.", ""),
    "ru": ("Прививался прошлой осенью.", "65+: бесплатная вакцина по городской программе.",
           "Просил напомнить осенью.", "Пропустил прививку в прошлом году.", ""),
}
TASK_TITLES = {
    "en": {
        "recall": ("Check-up after treatment is due", "Implant check, 3 months",
                   "Orthodontic review is due", "Yearly check-up is due"),
        "reminder": ("Remind to bring the X-ray", "Remind to book the next visit",
                     "Remind to bring the test results", "Remind about the treatment plan"),
        "follow-up": ("Ask how they feel after the extraction",
                      "Follow up after root canal treatment",
                      "Ask about the treatment estimate", "Ask how the new braces feel"),
    },
    "ru": {
        "recall": ("Пора на контрольный осмотр", "Контроль импланта через 3 месяца",
                   "Пора на осмотр у ортодонта", "Пора на ежегодный осмотр"),
        "reminder": ("Напомнить взять снимок", "Напомнить записаться на следующий приём",
                     "Напомнить принести анализы", "Напомнить о плане лечения"),
        "follow-up": ("Узнать самочувствие после удаления",
                      "Узнать самочувствие после лечения каналов",
                      "Обсудить смету лечения", "Узнать, как привыкает к брекетам"),
    },
}
COMMENTS = {
    "en": {
        "left": "Voicemail; left a message about the appointment.",
        "no-answer": "No answer.", "confirmed": "Confirmed, will come on time.",
        "cancelled": "Cancelled: feels unwell, will call to rebook.",
        "call-back": "At work; asked to call back later.",
        "item-no-answer": "No answer; try in the evening.",
    },
    "ru": {
        "left": "Автоответчик, оставлено сообщение о приёме.",
        "no-answer": "Не отвечает.", "confirmed": "Подтвердил(а), придёт вовремя.",
        "cancelled": "Отмена: плохо себя чувствует, перезвонит для записи.",
        "call-back": "На работе, просит перезвонить позже.",
        "item-no-answer": "Не отвечает, попробовать вечером.",
    },
}
# Login names of the demo's operators (their sessions have ended).
OPERATORS = ("olga", "irina")
