"""The built-in message texts: seeded into the template store as version 1 of each kind and
language when the service starts (never over an operator's edit), and the fallback while the
store is still empty. English is complete; Romanian and Persian cover every kind, Latvian and
Slovenian the messages of every case (the others fall back to English).

Only texts live here, plus the lookup that falls back on them; the module is long because
the texts are (the one exception to the 500-line rule the layout allows)."""

from __future__ import annotations

from notification_service.templates.model import (
    ACKNOWLEDGEMENT,
    BUILT_IN_AUTHOR,
    DECISION,
    DELAY_APOLOGY,
    FOLLOW_UP,
    INFORMATION_REQUEST,
    INVESTIGATING,
    REMEDY,
    RESOLVED,
    RESPONSE,
    SURVEY,
    StoredTemplate,
    TemplateText,
)

_EN_SIGN = "\n\nKind regards,\nCustomer Care\n"
_RO_SIGN = "\n\nCu stimă,\nServiciul Clienți\n"
_FA_SIGN = "\n\nبا احترام،\nخدمات مشتریان\n"
_LV_SIGN = "\n\nAr cieņu\nKlientu apkalpošana\n"
_SL_SIGN = "\n\nLep pozdrav,\nPodpora strankam\n"
_EN_DEAR = "Dear {{ name or 'customer' }},\n\n"
_RO_DEAR = "Stimate/Stimată {{ name or 'client' }},\n\n"
_FA_DEAR = "{{ name or 'مشتری' }} گرامی،\n\n"
_LV_DEAR = "Labdien, {{ name or 'klient' }}!\n\n"
_SL_DEAR = "Spoštovani {{ name or 'stranka' }},\n\n"


def _t(subject: str, body: str) -> TemplateText:
    return TemplateText(subject=subject, body_text=body)


BUILT_IN: dict[str, dict[str, TemplateText]] = {
    ACKNOWLEDGEMENT: {
        "en": _t(
            "We received your complaint [{{ reference }}]",
            _EN_DEAR + "thank you for telling us about this. We have registered your complaint"
            '{% if subject %} "{{ subject }}"{% endif %} under reference {{ reference }}.\n\n'
            "What happens next: a member of our team will review it and contact you by "
            "{{ first_response_by }} at the latest. We aim to resolve it by {{ resolve_by }}, "
            "and we will keep you informed at every step, including if anything takes longer.\n\n"
            "Please keep the reference {{ reference }} in the subject if you reply to this "
            "message." + _EN_SIGN,
        ),
        "ro": _t(
            "Am primit reclamația dumneavoastră [{{ reference }}]",
            _RO_DEAR + "vă mulțumim că ne-ați semnalat această problemă. Am înregistrat reclamația"
            "{% if subject %} „{{ subject }}”{% endif %} cu numărul de referință {{ reference }}.\n\n"
            "Ce urmează: un membru al echipei noastre o va analiza și vă va contacta cel târziu "
            "până la {{ first_response_by }}. Ne propunem să o rezolvăm până la {{ resolve_by }} "
            "și vă vom ține la curent la fiecare pas, inclusiv dacă ceva durează mai mult.\n\n"
            "Vă rugăm să păstrați referința {{ reference }} în subiect dacă răspundeți." + _RO_SIGN,
        ),
        "fa": _t(
            "شکایت شما را دریافت کردیم [{{ reference }}]",
            _FA_DEAR + "از اینکه این موضوع را با ما در میان گذاشتید سپاسگزاریم. شکایت شما"
            "{% if subject %} «{{ subject }}»{% endif %} با شماره پیگیری {{ reference }} ثبت شد.\n\n"
            "مرحله بعد: یکی از همکاران ما آن را بررسی می‌کند و حداکثر تا {{ first_response_by }} "
            "با شما تماس می‌گیرد. هدف ما حل آن تا {{ resolve_by }} است و در هر مرحله، حتی اگر "
            "کاری بیشتر طول بکشد، شما را در جریان می‌گذاریم.\n\n"
            "لطفاً در صورت پاسخ، شماره {{ reference }} را در موضوع نامه نگه دارید." + _FA_SIGN,
        ),
        "lv": _t(
            "Mēs saņēmām jūsu sūdzību [{{ reference }}]",
            _LV_DEAR + "paldies, ka par to pastāstījāt. Mēs reģistrējām jūsu sūdzību"
            "{% if subject %} “{{ subject }}”{% endif %} ar numuru {{ reference }}.\n\n"
            "Kas notiks tālāk: mūsu komandas darbinieks to izskatīs un sazināsies ar jums "
            "ne vēlāk kā līdz {{ first_response_by }}. Mēs plānojam to atrisināt līdz "
            "{{ resolve_by }} un informēsim jūs par katru soli, arī ja kas aizkavēsies.\n\n"
            "Lūdzu, atbildot saglabājiet numuru {{ reference }} temata rindā." + _LV_SIGN,
        ),
        "sl": _t(
            "Prejeli smo vašo pritožbo [{{ reference }}]",
            _SL_DEAR + "hvala, ker ste nas obvestili. Vašo pritožbo"
            "{% if subject %} »{{ subject }}«{% endif %} smo evidentirali pod številko "
            "{{ reference }}.\n\n"
            "Kaj sledi: sodelavec iz naše ekipe jo bo pregledal in se vam oglasil najpozneje do "
            "{{ first_response_by }}. Rešiti jo želimo do {{ resolve_by }}, o vsakem koraku pa vas "
            "bomo obveščali, tudi če bo kaj trajalo dlje.\n\n"
            "Če odgovorite, v zadevi ohranite številko {{ reference }}." + _SL_SIGN,
        ),
    },
    INFORMATION_REQUEST: {
        "en": _t(
            "We need a little more from you [{{ reference }}]",
            _EN_DEAR + "to move on with your complaint {{ reference }} we need some more "
            "information from you:\n\n{{ question }}\n\nJust reply to this message; the clock on "
            "your complaint waits for your answer." + _EN_SIGN,
        ),
        "ro": _t(
            "Avem nevoie de câteva informații [{{ reference }}]",
            _RO_DEAR + "pentru a continua cu reclamația {{ reference }} avem nevoie de mai multe "
            "informații:\n\n{{ question }}\n\nRăspundeți simplu la acest mesaj; termenul "
            "reclamației așteaptă răspunsul dumneavoastră." + _RO_SIGN,
        ),
        "fa": _t(
            "به اطلاعات بیشتری نیاز داریم [{{ reference }}]",
            _FA_DEAR + "برای ادامه رسیدگی به شکایت {{ reference }} به اطلاعات بیشتری از شما "
            "نیاز داریم:\n\n{{ question }}\n\nکافی است به همین پیام پاسخ دهید." + _FA_SIGN,
        ),
    },
    INVESTIGATING: {
        "en": _t(
            "We are looking into your complaint [{{ reference }}]",
            _EN_DEAR + "a member of our team is now investigating your complaint {{ reference }}. "
            "We will get back to you as soon as we know more." + _EN_SIGN,
        ),
        "ro": _t(
            "Analizăm reclamația dumneavoastră [{{ reference }}]",
            _RO_DEAR + "un membru al echipei noastre analizează acum reclamația {{ reference }}. "
            "Revenim cu noutăți cât de curând." + _RO_SIGN,
        ),
        "fa": _t(
            "در حال بررسی شکایت شما هستیم [{{ reference }}]",
            _FA_DEAR + "یکی از همکاران ما اکنون در حال بررسی شکایت {{ reference }} است. به "
            "محض اطلاع بیشتر با شما تماس می‌گیریم." + _FA_SIGN,
        ),
    },
    RESOLVED: {
        "en": _t(
            "Your complaint is resolved [{{ reference }}]",
            _EN_DEAR + "we have resolved your complaint {{ reference }}."
            "{% if resolution %}\n\n{{ resolution }}{% endif %}\n\nIf the problem is not solved "
            "for you, reply to this message and we will reopen it." + _EN_SIGN,
        ),
        "ro": _t(
            "Reclamația dumneavoastră a fost rezolvată [{{ reference }}]",
            _RO_DEAR + "am rezolvat reclamația {{ reference }}."
            "{% if resolution %}\n\n{{ resolution }}{% endif %}\n\nDacă problema nu este "
            "rezolvată pentru dumneavoastră, răspundeți la acest mesaj și o redeschidem."
            + _RO_SIGN,
        ),
        "fa": _t(
            "شکایت شما حل شد [{{ reference }}]",
            _FA_DEAR + "شکایت {{ reference }} حل شد."
            "{% if resolution %}\n\n{{ resolution }}{% endif %}\n\nاگر مشکل شما برطرف نشده است، "
            "به این پیام پاسخ دهید تا دوباره آن را باز کنیم." + _FA_SIGN,
        ),
    },
    DELAY_APOLOGY: {
        "en": _t(
            "We are late with your complaint, sorry [{{ reference }}]",
            _EN_DEAR + "we promised you "
            "{% if deadline == 'resolve' %}a resolution{% else %}an answer{% endif %} on your "
            "complaint {{ reference }} by {{ missed_at }}, and we have not kept that promise. We "
            "are sorry. The case now has a senior colleague's attention, and our new time is "
            "{{ new_time }}." + _EN_SIGN,
        ),
        "ro": _t(
            "Ne cerem scuze pentru întârziere [{{ reference }}]",
            _RO_DEAR + "v-am promis "
            "{% if deadline == 'resolve' %}o rezolvare{% else %}un răspuns{% endif %} la "
            "reclamația {{ reference }} până la {{ missed_at }} și nu ne-am ținut de cuvânt. Ne "
            "pare rău. Un coleg cu experiență se ocupă acum de caz, iar noul termen este "
            "{{ new_time }}." + _RO_SIGN,
        ),
        "fa": _t(
            "بابت تأخیر پوزش می‌خواهیم [{{ reference }}]",
            _FA_DEAR + "قول داده بودیم تا {{ missed_at }} "
            "{% if deadline == 'resolve' %}شکایت {{ reference }} را حل کنیم"
            "{% else %}به شکایت {{ reference }} پاسخ دهیم{% endif %} و به این قول عمل نکردیم. "
            "متأسفیم. اکنون یکی از همکاران ارشد پیگیر پرونده است و زمان جدید {{ new_time }} است."
            + _FA_SIGN,
        ),
    },
    RESPONSE: {
        "en": _t("About your complaint [{{ reference }}]", _EN_DEAR + "{{ message }}" + _EN_SIGN),
        "ro": _t(
            "Despre reclamația dumneavoastră [{{ reference }}]",
            _RO_DEAR + "{{ message }}" + _RO_SIGN,
        ),
        "fa": _t("درباره شکایت شما [{{ reference }}]", _FA_DEAR + "{{ message }}" + _FA_SIGN),
        "lv": _t("Par jūsu sūdzību [{{ reference }}]", _LV_DEAR + "{{ message }}" + _LV_SIGN),
        "sl": _t("O vaši pritožbi [{{ reference }}]", _SL_DEAR + "{{ message }}" + _SL_SIGN),
    },
    DECISION: {
        "en": _t(
            "Our decision on your complaint [{{ reference }}]",
            _EN_DEAR
            + "{% if validity == 'justified' %}we have reviewed your complaint and agree with you."
            "{% elif validity == 'partly_justified' %}we have reviewed your complaint and agree "
            "with you in part."
            "{% else %}we have reviewed your complaint carefully and could not find a fault on our "
            "side.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nWhat we can offer: {{ way_forward }}{% endif %}"
            "\n\nIf anything is unclear, reply to this e-mail and keep {{ reference }} in the "
            "subject." + _EN_SIGN,
        ),
        "ro": _t(
            "Decizia noastră privind reclamația [{{ reference }}]",
            _RO_DEAR + "{% if validity == 'justified' %}am analizat reclamația și vă dăm dreptate."
            "{% elif validity == 'partly_justified' %}am analizat reclamația și vă dăm dreptate "
            "în parte."
            "{% else %}am analizat cu atenție reclamația și nu am găsit o greșeală din partea "
            "noastră.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nCe vă putem oferi: {{ way_forward }}{% endif %}"
            "\n\nDacă ceva nu este clar, răspundeți la acest e-mail păstrând {{ reference }} în "
            "subiect." + _RO_SIGN,
        ),
        "fa": _t(
            "تصمیم ما درباره شکایت شما [{{ reference }}]",
            _FA_DEAR + "{% if validity == 'justified' %}شکایت شما را بررسی کردیم و حق با شماست."
            "{% elif validity == 'partly_justified' %}شکایت شما را بررسی کردیم و تا حدی حق با "
            "شماست.{% else %}شکایت شما را با دقت بررسی کردیم و خطایی از سوی خود نیافتیم.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nپیشنهاد ما: {{ way_forward }}{% endif %}"
            "\n\nاگر نکته‌ای روشن نیست، به این نامه پاسخ دهید و {{ reference }} را در موضوع نگه "
            "دارید." + _FA_SIGN,
        ),
        "lv": _t(
            "Mūsu lēmums par jūsu sūdzību [{{ reference }}]",
            _LV_DEAR + "{% if validity == 'justified' %}mēs izskatījām jūsu sūdzību un piekrītam "
            "jums.{% elif validity == 'partly_justified' %}mēs izskatījām jūsu sūdzību un daļēji "
            "piekrītam jums.{% else %}mēs rūpīgi izskatījām jūsu sūdzību un neatradām kļūdu no "
            "mūsu puses.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nKo mēs varam piedāvāt: {{ way_forward }}{% endif %}"
            "\n\nJa kas nav skaidrs, atbildiet uz šo e-pastu, saglabājot {{ reference }} temata "
            "rindā." + _LV_SIGN,
        ),
        "sl": _t(
            "Naša odločitev o vaši pritožbi [{{ reference }}]",
            _SL_DEAR + "{% if validity == 'justified' %}vašo pritožbo smo pregledali in se z vami "
            "strinjamo.{% elif validity == 'partly_justified' %}vašo pritožbo smo pregledali in "
            "se z vami delno strinjamo.{% else %}vašo pritožbo smo skrbno pregledali in na naši "
            "strani nismo našli napake.{% endif %}"
            "{% if explanation %}\n\n{{ explanation }}{% endif %}"
            "{% if way_forward %}\n\nKaj vam lahko ponudimo: {{ way_forward }}{% endif %}"
            "\n\nČe kaj ni jasno, odgovorite na to sporočilo in v zadevi ohranite "
            "{{ reference }}." + _SL_SIGN,
        ),
    },
    REMEDY: {
        "en": _t(
            "What we offer you [{{ reference }}]",
            _EN_DEAR
            + "for your complaint {{ reference }} we offer you {% if remedy_type == 'refund' %}a refund{% elif remedy_type == 'replacement' %}a replacement{% elif remedy_type == 'repair' %}a free repair{% elif remedy_type == 'discount' %}a discount{% elif remedy_type == 'credit' %}a credit on your account{% elif remedy_type == 'upgrade' %}a free upgrade{% elif remedy_type == 'apology_gesture' %}a gesture of apology{% else %}a remedy{% endif %}"
            "{% if amount %} of {{ amount }} {{ currency or '' }}{% endif %}"
            "{% if method %}, by {{ method }}{% endif %}"
            "{% if due_date %}, no later than {{ due_date }}{% endif %}.\n\nIf this does not "
            "suit you, reply to this message." + _EN_SIGN,
        ),
        "ro": _t(
            "Ce vă oferim [{{ reference }}]",
            _RO_DEAR
            + "pentru reclamația {{ reference }} vă oferim {% if remedy_type == 'refund' %}o rambursare{% elif remedy_type == 'replacement' %}o înlocuire{% elif remedy_type == 'repair' %}o reparație gratuită{% elif remedy_type == 'discount' %}o reducere{% elif remedy_type == 'credit' %}un credit în contul dumneavoastră{% elif remedy_type == 'upgrade' %}un upgrade gratuit{% elif remedy_type == 'apology_gesture' %}un gest de scuze{% else %}o compensație{% endif %}"
            "{% if amount %} de {{ amount }} {{ currency or '' }}{% endif %}"
            "{% if method %}, prin {{ method }}{% endif %}"
            "{% if due_date %}, cel târziu până la {{ due_date }}{% endif %}.\n\nDacă nu vă "
            "convine, răspundeți la acest mesaj." + _RO_SIGN,
        ),
        "fa": _t(
            "پیشنهاد ما به شما [{{ reference }}]",
            _FA_DEAR
            + "برای شکایت {{ reference }} به شما {% if remedy_type == 'refund' %}بازپرداخت وجه{% elif remedy_type == 'replacement' %}تعویض کالا{% elif remedy_type == 'repair' %}تعمیر رایگان{% elif remedy_type == 'discount' %}تخفیف{% elif remedy_type == 'credit' %}اعتبار در حساب شما{% elif remedy_type == 'upgrade' %}ارتقای رایگان{% elif remedy_type == 'apology_gesture' %}هدیه‌ای برای عذرخواهی{% else %}جبران خسارت{% endif %} پیشنهاد می‌کنیم"
            "{% if amount %} به مبلغ {{ amount }} {{ currency or '' }}{% endif %}"
            "{% if method %}، از طریق {{ method }}{% endif %}"
            "{% if due_date %}، حداکثر تا {{ due_date }}{% endif %}.\n\nاگر این پیشنهاد برای "
            "شما مناسب نیست، به این پیام پاسخ دهید." + _FA_SIGN,
        ),
    },
    SURVEY: {
        "en": _t(
            "How did we do? [{{ reference }}]",
            _EN_DEAR + "your complaint {{ reference }} is now closed. Would you tell us how we "
            "handled it? It takes two minutes:\n{{ survey_url }}" + _EN_SIGN,
        ),
        "ro": _t(
            "Cum ne-am descurcat? [{{ reference }}]",
            _RO_DEAR + "reclamația {{ reference }} a fost închisă. Ne spuneți cum am gestionat-o? "
            "Durează două minute:\n{{ survey_url }}" + _RO_SIGN,
        ),
        "fa": _t(
            "عملکرد ما چطور بود؟ [{{ reference }}]",
            _FA_DEAR + "پرونده شکایت {{ reference }} بسته شد. لطفاً به ما بگویید چگونه به آن "
            "رسیدگی کردیم؛ دو دقیقه طول می‌کشد:\n{{ survey_url }}" + _FA_SIGN,
        ),
        "lv": _t(
            "Kā mums veicās? [{{ reference }}]",
            _LV_DEAR + "jūsu sūdzība {{ reference }} ir slēgta. Vai pastāstīsiet, kā mēs ar to "
            "tikām galā? Tas aizņem divas minūtes:\n{{ survey_url }}" + _LV_SIGN,
        ),
        "sl": _t(
            "Kako smo se odrezali? [{{ reference }}]",
            _SL_DEAR + "vaša pritožba {{ reference }} je zaključena. Nam poveste, kako smo jo "
            "obravnavali? Vzame vam dve minuti:\n{{ survey_url }}" + _SL_SIGN,
        ),
    },
    FOLLOW_UP: {
        "en": _t(
            "Did our fix hold? [{{ reference }}]",
            _EN_DEAR + "on {{ resolved_on }} we resolved your complaint {{ reference }}. Is "
            "everything still working as it should? If not, just reply to this message and we "
            "will pick it up again straight away." + _EN_SIGN,
        ),
        "ro": _t(
            "Soluția noastră a funcționat? [{{ reference }}]",
            _RO_DEAR + "pe {{ resolved_on }} am rezolvat reclamația {{ reference }}. Totul "
            "funcționează în continuare cum trebuie? Dacă nu, răspundeți la acest mesaj și ne "
            "ocupăm imediat din nou." + _RO_SIGN,
        ),
        "fa": _t(
            "آیا راه‌حل ما پایدار ماند؟ [{{ reference }}]",
            _FA_DEAR + "در تاریخ {{ resolved_on }} شکایت {{ reference }} را حل کردیم. آیا همه چیز "
            "هنوز درست کار می‌کند؟ اگر نه، به این پیام پاسخ دهید تا فوراً دوباره پیگیری کنیم."
            + _FA_SIGN,
        ),
    },
}


def built_in(kind: str, language: str, default_language: str) -> StoredTemplate:
    """The built-in text of ``kind`` (version 1) in ``language``, else the default language,
    else English: what a message falls back to when a stored template fails to render."""
    for candidate in (language, default_language, "en"):
        if candidate in BUILT_IN[kind]:
            return StoredTemplate(
                kind, candidate, 1, BUILT_IN[kind][candidate], None, BUILT_IN_AUTHOR
            )
    raise LookupError(f"no built-in {kind} template")
